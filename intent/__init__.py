"""Reply intent: which of a few labels an inbound message means (interested, out of office…).

The classifier is pluggable like a mail backend: INTENT_CLASSIFIER names a class with
``classify(IncomingReply) -> Intent``; the rule-based one ships by default.
"""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from intent.base import Classifier, IncomingReply, Intent

__all__ = ["Classifier", "IncomingReply", "Intent", "get_classifier"]


@cache
def _load(path: str) -> Classifier:
    return import_string(path)()


def get_classifier() -> Classifier:
    return _load(settings.INTENT_CLASSIFIER)
