from django.apps import AppConfig


class DeliverabilityConfig(AppConfig):
    """Keeping senders out of spam folders and within platform costs: sending domains
    (SPF, DKIM, DMARC checks and in-app DKIM signing), bounce and complaint guards per
    sender and domain, ESP tracking, and what a campaign will cost. It sits above outreach,
    whose senders and messages it reads and pauses, and below campaigns, which asks it
    before a launch (docs/architecture.md, "Apps and layers")."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "deliverability"
