from django.apps import AppConfig


class DeliverabilityConfig(AppConfig):
    """Keeping senders out of spam folders and within platform costs: sending domains
    (SPF, DKIM, DMARC checks and in-app DKIM signing), bounce and complaint guards per
    sender and domain, ESP tracking, and what a campaign will cost. It sits above outreach,
    whose senders and messages it reads and pauses, and below campaigns, which asks it
    before a launch (docs/architecture.md, "Apps and layers")."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "deliverability"

    def ready(self) -> None:
        from anymail.signals import inbound, tracking

        from deliverability.esp import inbound_received, tracking_received

        tracking.connect(tracking_received, dispatch_uid="deliverability.esp.tracking")
        inbound.connect(inbound_received, dispatch_uid="deliverability.esp.inbound")
