"""Django's own model signals that campaigns listens to (news from outreach and contacts
arrives through campaigns/seams.py instead)."""

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from campaigns import counters
from campaigns.models import Campaign, Enrollment


# Enrollments are deleted mostly by cascade (a contact deleted, an import rolled back), which
# no service sees: Django sends pre_delete for each before deleting anything, so what they
# count for is still there to be taken away.
@receiver(pre_delete, sender=Enrollment, dispatch_uid="campaigns.counters.delete")
def on_enrollment_delete(sender, *, instance: Enrollment, **kwargs) -> None:
    origin = kwargs.get("origin")
    if isinstance(origin, Campaign) or getattr(origin, "model", None) is Campaign:
        return  # the campaign goes, and its counters with it
    counters.counters_before_delete(enrollment_ids=[instance.id])
