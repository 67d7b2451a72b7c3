"""Rules that move deals when something happens to a reply. Imported by campaigns/models.py."""

from django.db import models


class StageRule(models.Model):
    """When <event> happens for a contact, move their deal in <pipeline> to <stage>.

    Deals only move forward (a later open stage, or a won/lost stage), so a first reply never
    pulls a deal at "meeting" back to "replied".
    """

    class Event(models.TextChoices):
        REPLY = "reply", "Any reply"
        INTERESTED = "intent:interested", "Intent: interested"
        NOT_NOW = "intent:not_now", "Intent: not now"
        NOT_INTERESTED = "intent:not_interested", "Intent: not interested"
        WRONG_PERSON = "intent:wrong_person", "Intent: wrong person"
        OUT_OF_OFFICE = "intent:out_of_office", "Intent: out of office"
        UNSUBSCRIBE = "intent:unsubscribe", "Intent: unsubscribe"

    pipeline = models.ForeignKey(
        "campaigns.Pipeline", on_delete=models.CASCADE, related_name="rules"
    )
    event = models.CharField(max_length=40, choices=Event.choices)
    stage = models.ForeignKey("campaigns.Stage", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(
        max_length=200, blank=True, help_text="Recorded in the stage history, e.g. why lost."
    )

    class Meta:
        ordering = ["pipeline", "event"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "event"], name="stagerule_unique_event")
        ]

    def __str__(self) -> str:
        return f"{self.pipeline.name}: {self.get_event_display()} → {self.stage.name}"
