from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """The dashboards: what campaigns did and what they will do, read from the counters
    campaigns keeps (campaigns/counters.py) and from the live rows that must be live."""

    name = "analytics"
