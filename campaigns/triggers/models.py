from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from contacts.channels import channel_choices
from contacts.models import Contact, Tag
from core.teams import Team
from outreach.engagement import EventType
from outreach.models import Conversation, InboundEvent, Message, SenderAccount

# The events each channel's inbound parsing produces (docs/channels.md, the "Webhooks" and
# "Policy" lines of each channel; outreach/engagement.py event_type_of): a trigger on any other
# pair would never fire. A channel not listed (the manual ones) receives nothing to watch.
CHANNEL_EVENTS: dict[str, frozenset[str]] = {
    "instagram": frozenset(
        {
            EventType.DM,
            EventType.COMMENT,
            EventType.STORY_REPLY,
            EventType.STORY_MENTION,
            EventType.AD_REFERRAL,
        }
    ),
    "messenger": frozenset({EventType.DM, EventType.COMMENT, EventType.AD_REFERRAL}),
    "whatsapp": frozenset({EventType.DM, EventType.AD_REFERRAL}),
    "x": frozenset({EventType.DM}),
    "telegram": frozenset({EventType.DM, EventType.DEEP_LINK}),
    "email": frozenset({EventType.EMAIL}),
}


class Trigger(models.Model):
    """When this kind of engagement arrives and matches, do these things."""

    class Match(models.TextChoices):
        KEYWORDS = "keywords", "Any of the keywords (whole words, any case)"
        ANY = "any", "Any message"
        REGEX = "regex", "Regular expression (advanced)"

    class PublicReplyOrder(models.TextChoices):
        PER_COMMENTER = "commenter", "The same variant for the same person"
        ROTATE = "rotate", "Each variant in turn (round robin)"

    name = models.CharField(max_length=150)
    active = models.BooleanField(default=True)
    # Null only on rows older than teams on triggers that migration 0017 could not place;
    # every form requires it (campaigns/triggers/services.py says where those fire).
    team = models.ForeignKey(
        Team,
        null=True,
        on_delete=models.SET_NULL,
        related_name="triggers",
        help_text="The team whose accounts this trigger answers from.",
    )
    channel = models.CharField(max_length=20, choices=channel_choices)
    sender = models.ForeignKey(
        SenderAccount,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="triggers",
        help_text="Empty: any account on this channel that the team's members or managers own "
        "(a shared account answers only when named here).",
    )
    event_type = models.CharField(max_length=20, choices=EventType.choices)
    post_id = models.CharField(
        max_length=100, blank=True, help_text="Comments only: the post's id. Empty: any post."
    )
    address = models.EmailField(
        blank=True,
        help_text="Email to an address only: the address it was sent to, e.g. leads@acme.com "
        "(matched on Delivered-To, To and Cc).",
    )
    match = models.CharField(max_length=10, choices=Match.choices, default=Match.KEYWORDS)
    keywords = models.TextField(
        blank=True, help_text="One per line or comma-separated, e.g. price, preis, prix."
    )
    pattern = models.CharField(max_length=200, blank=True, help_text="Regular expression.")
    # Actions.
    reply_body = models.TextField(
        blank=True,
        help_text="Immediate reply. On a comment this is the one private reply Meta allows.",
    )
    public_replies = models.TextField(
        blank=True,
        help_text="Comments only: a public reply under the comment, one variant per line "
        "(personalised like templates). At most one per comment.",
    )
    public_reply_order = models.CharField(
        max_length=10, choices=PublicReplyOrder.choices, default=PublicReplyOrder.PER_COMMENTER
    )
    public_reply_turn = models.PositiveIntegerField(
        default=0, help_text="Round robin: how many public replies were chosen so far."
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    record_consent = models.BooleanField(
        default=True, help_text="The person wrote first: record consent for this channel."
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    start_step = models.PositiveSmallIntegerField(default=1)
    deal_stage = models.ForeignKey(
        "pipelines.Stage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Open a deal here, or move the contact's open deal of that pipeline.",
    )
    assign_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Assign an owner round robin among the team's members.",
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cooldown = models.DurationField(
        null=True,
        blank=True,
        help_text="Fire again for the same person (and post) after this long. Empty: never.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(start_step__gte=1), name="trigger_step_positive")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"/triggers/#trigger-{self.pk}"

    def clean(self) -> None:
        from campaigns.triggers.matching import pattern_problem

        if self.match == self.Match.KEYWORDS and not self.keywords.strip():
            raise ValidationError({"keywords": "Give at least one keyword, or match any message."})
        if self.match == self.Match.REGEX:
            problem = pattern_problem(self.pattern)
            if problem:
                raise ValidationError({"pattern": problem})
        sender = self.sender if self.sender_id else None
        if sender is not None and sender.channel != self.channel:
            raise ValidationError({"sender": "This account is on another channel."})
        if self.event_type not in CHANNEL_EVENTS.get(self.channel, ()):
            events = dict(EventType.choices)
            possible = [events[e] for e in events if e in CHANNEL_EVENTS.get(self.channel, ())]
            raise ValidationError(
                {
                    "event_type": f"{self.get_channel_display()} never sends "
                    f'"{events.get(self.event_type, self.event_type)}"; it can watch: '
                    + (", ".join(possible) or "nothing (no inbound events)")
                    + "."
                }
            )
        if self.event_type == EventType.EMAIL:
            if not self.address:
                raise ValidationError({"address": "Give the address the emails are sent to."})
        elif self.address:
            raise ValidationError({"address": "Only for the event type email to an address."})
        self.address = self.address.strip().lower()
        if self.public_replies.strip() and (
            self.event_type != EventType.COMMENT or self.channel not in ("instagram", "messenger")
        ):
            raise ValidationError(
                {"public_replies": "Only for comments on Instagram or Facebook (Messenger)."}
            )
        if sender is not None and self.team_id and not sender_in_team(sender, self.team_id):
            raise ValidationError({"sender": "This account belongs to another team."})
        campaign = self.campaign if self.campaign_id else None
        owner_id = campaign.owner_id if campaign is not None else None
        if self.team_id and owner_id is not None and owner_id not in team_owner_ids(self.team_id):
            raise ValidationError({"campaign": "This campaign belongs to another team."})
        self._clean_replies()

    def _clean_replies(self) -> None:
        """Replies are templates: one that does not compile is never saved, so inbound
        processing cannot meet it (campaigns/triggers/services.py skips old rows that do)."""
        from campaigns.rendering import TemplateError, compile_template

        texts = [("reply_body", self.reply_body)]
        texts += [("public_replies", v) for v in self.public_reply_variants()]
        for field, text in texts:
            try:
                compile_template(text)
            except TemplateError as exc:
                raise ValidationError({field: str(exc)}) from exc

    def public_reply_variants(self) -> list[str]:
        return [line.strip() for line in self.public_replies.splitlines() if line.strip()]


def team_owner_ids(team_id: int) -> set[int]:
    """Members and managers of the team: the owners of its accounts."""
    team = Team.objects.get(id=team_id)
    ids = set(team.members.values_list("id", flat=True))
    return ids | set(team.managers.values_list("id", flat=True))


def sender_in_team(sender: SenderAccount, team_id: int) -> bool:
    """A shared account (no owner) may be named by any team; an owned one only by its
    owner's team."""
    return sender.owner_id is None or sender.owner_id in team_owner_ids(team_id)


class TriggerFire(models.Model):
    """One trigger looking at one inbound event: unique, so a redelivery never fires twice."""

    class Outcome(models.TextChoices):
        FIRED = "fired", "Fired"
        REPEAT = "repeat", "Already fired for this person"
        BLOCKED = "blocked", "Opted out or suppressed"
        SKIPPED = "skipped", "Skipped: its reply cannot be rendered"

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="fires")
    inbound_event = models.ForeignKey(InboundEvent, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    post_id = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.CharField(max_length=200, blank=True)
    new_lead = models.BooleanField(default=False)
    reply = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    public_reply = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enrollment = models.ForeignKey(
        "campaigns.Enrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(fields=["trigger", "inbound_event"], name="triggerfire_once")
        ]
        indexes = [
            # "Has this trigger already fired for this person (under this post)?"
            models.Index(fields=["trigger", "contact", "post_id"], name="triggerfire_person"),
        ]

    def __str__(self) -> str:
        return f"{self.trigger} · {self.contact} ({self.outcome})"


class StepOptions(models.Model):
    """Extra behaviour of a sequence step that a triggered conversation needs."""

    class Anchor(models.TextChoices):
        PREVIOUS = "previous", "After the previous step"
        LAST_INBOUND = "last_inbound", "After the person's last message (messaging window)"

    class WindowClosed(models.TextChoices):
        WAIT = "wait", "Wait (the policy gate holds it)"
        END = "end", "End the sequence"
        EMAIL = "email", "Switch to the sequence's next email step"

    step = models.OneToOneField("campaigns.Step", on_delete=models.CASCADE, related_name="options")
    anchor = models.CharField(max_length=20, choices=Anchor.choices, default=Anchor.PREVIOUS)
    when_window_closed = models.CharField(
        max_length=10, choices=WindowClosed.choices, default=WindowClosed.WAIT
    )
    capture_field = models.CharField(
        max_length=64,
        blank=True,
        help_text='Store the answer: "email", "phone", or a custom field name.',
    )
    reask_body = models.TextField(
        blank=True, default="Sorry, that doesn't look right. Could you send it again?"
    )

    class Meta:
        verbose_name_plural = "step options"

    def __str__(self) -> str:
        return f"options of {self.step}"


class CaptureRequest(models.Model):
    """A question step went out; the person's next message is the answer."""

    enrollment = models.ForeignKey(
        "campaigns.Enrollment", on_delete=models.CASCADE, related_name="captures"
    )
    step = models.ForeignKey("campaigns.Step", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    field = models.CharField(max_length=64)
    asked_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    answered_at = models.DateTimeField(null=True, blank=True)
    value = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="capture_once_per_step")
        ]

    def __str__(self) -> str:
        return f"{self.field} for {self.enrollment}"


MAX_CAPTURE_ATTEMPTS = 3
STANDARD_WINDOW = timedelta(hours=24)
