from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from contacts.channels import channel_choices, channel_label
from contacts.models import Contact
from outreach.channels.registry import channels
from outreach.media import validate_attachments
from outreach.models import Message, SenderAccount


class Template(models.Model):
    name = models.CharField(max_length=200)
    channel = models.CharField(
        max_length=20, choices=channel_choices, blank=True, help_text="Empty: any channel."
    )
    subject = models.CharField(max_length=300, blank=True, help_text="Email only.")
    body = models.TextField()
    attachments = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_attachments],
        help_text='e.g. [{"type": "file", "url": "https://…", "name": "Deck"}, {"asset": 12}]',
    )
    # A/B testing between the variants (campaigns/variants.py).
    ab_winner = models.ForeignKey(
        "TemplateVariant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Once set, every new message uses this variant.",
    )
    ab_auto_winner_after = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Pick the winner automatically once every variant has this many sends "
        "and the best reply rate is ahead at 95% confidence. Empty: never.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    team = models.ForeignKey(
        "core.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: shared by every team.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TemplateVariant(models.Model):
    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=20, help_text="e.g. A, B")
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    weight = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(fields=["template", "label"], name="variant_unique_label"),
            models.CheckConstraint(condition=Q(weight__gt=0), name="variant_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.template.name} / {self.label}"


class TemplateVersion(models.Model):
    """What a template sent at one point: subject, body, attachments and its variants' text.

    Written only by campaigns/versions.py. Once anyone could have received it (a launched
    campaign uses the template, or a message was rendered from it) a version never changes;
    an edit records the next number. StepSend.template_version says which one a message used.
    """

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    attachments = models.JSONField(default=list, blank=True)
    variants = models.JSONField(
        default=list, blank=True, help_text="[{id, label, subject, body}] of the A/B variants."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"], name="template_version_unique_number"
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1), name="template_version_number_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.name} v{self.number}"

    @property
    def label(self) -> str:
        return f"v{self.number}"

    def text_for(self, variant: TemplateVariant | None) -> tuple[str, str]:
        """(subject, body) this version sends for the chosen A/B variant (or none)."""
        if variant is None:
            return self.subject, self.body
        for v in self.variants:
            if v["id"] == variant.id:
                return v["subject"], v["body"]
        return variant.subject, variant.body  # added after this version; not reached in dispatch


class Sequence(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Who sees it, as for templates (campaigns/access.py `sequences_visible_to`).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "core.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty, with no author: shared by every team.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Step(models.Model):
    class Condition(models.TextChoices):
        ALWAYS = "always", "Always, even after a reply"
        NO_REPLY = "no_reply", "Only if no reply yet"
        DELIVERED = "delivered", "Only if the previous message was delivered"
        READ = "read", "Only if the previous message was read"
        HAS_IDENTITY = "has_identity", "Only if the contact has an identity on…"

    class OnRefused(models.TextChoices):
        HOLD = "hold", "Hold it with the platform's reason"
        NEXT_CHANNEL = "next_channel", "Re-route it to the next channel alternative"

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(help_text="1 is the first message.")
    channel = models.CharField(max_length=20, choices=channel_choices)
    delay = models.DurationField(
        default=timedelta(days=2), help_text="Wait after the previous step (0 for the first)."
    )
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="steps")
    condition = models.CharField(
        max_length=20,
        choices=Condition.choices,
        default=Condition.NO_REPLY,
        help_text="A reply ends the sequence for every step but those marked "
        '"Always": they still go out (a meeting reminder, a thank-you). Every other '
        "condition also needs no reply yet. A step whose condition is not met is skipped "
        "with its reason, and the next step is timed from the last message really sent.",
    )
    condition_channel = models.CharField(
        max_length=20,
        choices=channel_choices,
        blank=True,
        help_text='With "Only if the contact has an identity on…": that channel.',
    )
    business_days = models.BooleanField(
        default=False,
        help_text="Count the delay in business days (Monday–Friday): Saturdays and Sundays "
        "are skipped for a delay of whole days.",
    )
    on_refused = models.CharField(
        max_length=20,
        choices=OnRefused.choices,
        default=OnRefused.HOLD,
        help_text="When a platform's policy refuses the message before it is sent "
        "(e.g. WhatsApp outside its 24 h window).",
    )
    # A WhatsApp step may send one of the WABA's synced templates (docs/deliverability.md);
    # its variables are filled per contact as whatsapp_variables says
    # (campaigns/whatsapp_params.py).
    whatsapp_template = models.ForeignKey(
        "deliverability.WhatsAppTemplate",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="steps",
        help_text="A WhatsApp step: the approved template synced from Meta it sends.",
    )
    whatsapp_variables = models.JSONField(
        default=dict,
        blank=True,
        help_text='Each template variable\'s value: {"1": {"source": "first_name", '
        '"text": "", "fallback": "there"}}; source is a contact field, "custom" (text is '
        'the custom field\'s key) or "text" (text is sent as it is).',
    )

    class Meta:
        ordering = ["sequence", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="step_unique_position"),
            models.CheckConstraint(condition=Q(position__gte=1), name="step_position_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.sequence.name} · step {self.position} ({self.get_channel_display()})"

    def clean(self) -> None:
        if self.delay is not None and self.delay < timedelta(0):
            raise ValidationError({"delay": "A delay cannot be negative."})
        problem = self.condition_problem()
        if problem:
            raise ValidationError({"condition": problem})

    def condition_problem(self) -> str:
        """Why the condition cannot work as set ("" when it can): delivered / read need a
        previous step whose channels report receipts (Channel.delivery_receipts); an
        identity condition needs its channel. Step.clean and the lint ask it."""
        C = self.Condition
        if self.condition == C.HAS_IDENTITY and not self.condition_channel:
            return "Choose the channel the contact must have an identity on."
        if self.condition != C.HAS_IDENTITY and self.condition_channel:
            return 'A channel goes only with "Only if the contact has an identity on…".'
        if self.condition not in (C.DELIVERED, C.READ):
            return ""
        if self.position == 1:
            return "The first step has no previous message to be delivered or read."
        if not self.sequence_id:
            return ""  # a sequence being created: the lint checks it before launch
        previous = (
            Step.objects.filter(sequence_id=self.sequence_id, position__lt=self.position)
            .order_by("-position")
            .first()
        )
        if previous is None:
            return "The first step has no previous message to be delivered or read."
        names = [previous.channel] + list(
            StepAlternative.objects.filter(step=previous).values_list("channel", flat=True)
        )
        configured = channels()
        silent = [
            channel_label(c)
            for c in dict.fromkeys(names)
            if c not in configured or not configured[c].delivery_receipts
        ]
        if silent:
            what = "delivered" if self.condition == C.DELIVERED else "read"
            return (
                f"{', '.join(silent)} does not report whether a message was {what}: "
                f"step {previous.position} goes out there."
            )
        return ""


class StepAlternative(models.Model):
    """Another channel (with its own template) for a step, tried in position order after the
    step's own channel: when the contact cannot be reached there, or, if the step says so,
    when the platform's policy refused the message (campaigns/routes.py)."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="alternatives")
    position = models.PositiveSmallIntegerField(help_text="1 is tried right after the step.")
    channel = models.CharField(max_length=20, choices=channel_choices)
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="alternatives")

    class Meta:
        ordering = ["step", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["step", "position"], name="alternative_unique_position"
            ),
            # 0 is the step's own channel and template (StepSend.route).
            models.CheckConstraint(
                condition=Q(position__gte=1), name="alternative_position_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step} · alternative {self.position} ({self.get_channel_display()})"


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        FINISHED = "finished", "Finished"

    name = models.CharField(max_length=200)
    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    senders = models.ManyToManyField(SenderAccount, blank=True, related_name="campaigns")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active (next step scheduled)"
        WAITING = "waiting", "Waiting for its message to send"
        REPLIED = "replied", "Replied"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"
        FAILED = "failed", "Failed"
        PAUSED = "paused", "Paused"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="enrollments")
    sender = models.ForeignKey(
        SenderAccount,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="Sticky per contact: follow-ups come from the same account.",
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.ACTIVE)
    current_step = models.PositiveSmallIntegerField(default=1, help_text="Next step to send.")
    next_action_at = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(max_length=200, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    # The step message the reply quoted (an email's In-Reply-To, a quoted DM, a button under
    # it): the reply counts there. Empty: it counts on the last step sent (campaigns/counters.py).
    replied_to = models.ForeignKey(
        "StepSend", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="enrollment_unique"),
        ]
        indexes = [
            # The dispatcher's due-work query; partial so it stays small as history grows.
            models.Index(
                fields=["next_action_at"],
                condition=Q(state="active"),
                name="enrollment_due",
            ),
            # A campaign's waiting and paused enrolments, as resuming the campaign reads them
            # (campaigns/services.py `campaign_resume`).
            models.Index(
                fields=["campaign"],
                condition=Q(state__in=["waiting", "paused"]),
                name="enrollment_held",
            ),
            # Does a running campaign still have anyone to send to? Asked for every running
            # campaign on each dispatcher tick (campaigns/dispatch.py `campaigns_finish`).
            models.Index(
                fields=["campaign"],
                condition=Q(state__in=["active", "waiting", "paused"]),
                name="enrollment_live",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.campaign}"


class StepSend(models.Model):
    """Links a sequence step for one enrollment to the outbound message it produced.

    One row per attempt: when the platform's policy refused a message before it was sent
    and the step re-routes it, the refused row is kept (stamped rerouted_at, so the rep sees
    its message and reason on the campaign) and a new row holds the next channel's message.
    Moving the one row onto the new message would have left the refused message outside
    the campaign. The constraints still allow at most one live message per (enrollment,
    step), and each channel route at most once.
    """

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="sends")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="sends")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="step_send")
    variant = models.ForeignKey(
        TemplateVariant, null=True, blank=True, on_delete=models.SET_NULL, related_name="sends"
    )
    route = models.PositiveSmallIntegerField(
        default=0, help_text="0: the step's own channel; n: its alternative at position n."
    )
    rerouted_at = models.DateTimeField(
        null=True, blank=True, help_text="Refused by the platform's policy; tried elsewhere."
    )
    # The version the message was rendered from (empty for messages made before versions).
    template_version = models.ForeignKey(
        TemplateVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="sends"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # At most one outbound message per (enrollment, step), whatever crashes or retries;
            # only a message refused before sending steps aside for the next channel's.
            models.UniqueConstraint(
                fields=["enrollment", "step"],
                condition=Q(rerouted_at=None),
                name="stepsend_unique",
            ),
            models.UniqueConstraint(
                fields=["enrollment", "step", "route"], name="stepsend_unique_route"
            ),
        ]
        indexes = [
            # The routes a batch's enrolments were refused on (campaigns/routes.py
            # `routes_tried`), asked for every dispatcher batch: few rows, where the unique
            # index above would read every link of the batch's enrolments.
            models.Index(
                fields=["enrollment"],
                condition=Q(rerouted_at__isnull=False),
                name="stepsend_rerouted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enrollment} · step {self.step.position}"

    @staticmethod
    def messages(**links) -> "models.QuerySet[Message]":
        """The messages of the step sends that match ``links`` (StepSend filters), found by
        a subquery rather than a join, so that a conditional update of them keeps its
        conditions on the message row (outreach.models.MessageQuerySet.update)."""
        return Message.objects.filter(id__in=StepSend.objects.filter(**links).values("message_id"))


# Kept in its own module; imported here so Django registers the models with this app.
from campaigns.stats_models import (  # noqa: E402, F401
    CampaignDayStats,
    CampaignIntentStats,
    CampaignStats,
)
from campaigns.triggers.models import (  # noqa: E402, F401
    CaptureRequest,
    StepOptions,
    Trigger,
    TriggerFire,
)
