"""Pipelines, their stages, deals moving through them and the rules that move deals.

They came from campaigns and kept their tables (campaigns_*, Meta.db_table; see
pipelines/migrations/0001_initial.py).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models

from contacts.models import Contact
from outreach.models import Message


class Pipeline(models.Model):
    name = models.CharField(max_length=200, unique=True)
    # Where a reply from a contact without a deal opens one (the sales pipeline by default).
    is_default = models.BooleanField(default=False)
    contacted_in_first_stage = models.BooleanField(
        "Put every contacted contact in the first stage",
        default=False,
        db_default=False,  # older data migrations insert pipelines without naming it
        help_text="A contact's first campaign message opens a deal for them in this "
        "pipeline's first stage, so the board shows everyone being worked, not only those "
        "who replied.",
    )

    class Meta:
        db_table = "campaigns_pipeline"

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OPEN)
    # Chance (percent) that a deal here closes won; the board's weighted forecast sums
    # value x probability. Won stages are 100 and lost 0 (pipelines/migrations/0002); the
    # column default lets older data migrations insert stages without naming it.
    probability = models.PositiveSmallIntegerField(
        default=20, db_default=20, validators=[MaxValueValidator(100)], help_text="Percent, 0-100."
    )

    class Meta:
        db_table = "campaigns_stage"
        ordering = ["pipeline", "position"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "position"], name="stage_unique_position"),
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline.name}: {self.name}"


class Deal(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deals")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    campaign = models.ForeignKey(
        # A string, not an import: campaigns sits above pipelines (docs/architecture.md).
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "campaigns_deal"
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.contact} · {self.stage.name}"

    def clean(self) -> None:
        if self.stage_id and self.pipeline_id and self.stage.pipeline_id != self.pipeline_id:
            raise ValidationError({"stage": "This stage belongs to another pipeline."})


class DealStageChange(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="history")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    reason = models.CharField(max_length=200, blank=True)
    # The reply whose label moved the deal, so a rep's correction of that label can move the
    # same deal back instead of opening a second one.
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "campaigns_dealstagechange"
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.deal}: {self.from_stage} → {self.to_stage}"


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

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="rules")
    event = models.CharField(max_length=40, choices=Event.choices)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(
        max_length=200, blank=True, help_text="Recorded in the stage history, e.g. why lost."
    )

    class Meta:
        db_table = "campaigns_stagerule"
        ordering = ["pipeline", "event"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "event"], name="stagerule_unique_event")
        ]

    def __str__(self) -> str:
        return f"{self.pipeline.name}: {self.get_event_display()} → {self.stage.name}"

    @property
    def why(self) -> str:
        """What a move by this rule says in the deal's history: its reason, or its event."""
        return self.reason or self.get_event_display()
