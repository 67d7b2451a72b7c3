from django.apps import AppConfig


class IntentConfig(AppConfig):
    """The reply-intent classifier: plain text in, a label out; no models, no other app."""

    name = "intent"
