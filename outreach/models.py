import uuid
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from contacts.channels import channel_choices
from contacts.models import Identity
from contacts.validators import validate_time_zone
from outreach.fields import EncryptedTextField


def validate_weekdays(value: str) -> None:
    if not value or any(c not in "0123456" for c in value) or len(set(value)) != len(value):
        raise ValidationError("Use the digits 0 (Monday) to 6 (Sunday), each once, e.g. 01234.")


class SenderAccount(models.Model):
    """A mailbox, page, bot or profile that sends, with its limits and live limiter state."""

    class Health(models.TextChoices):
        OK = "ok", "OK"
        DEGRADED = "degraded", "Degraded (recent errors)"
        AUTH_EXPIRED = "auth_expired", "Credentials expired"

    channel = models.CharField(max_length=20, choices=channel_choices)
    name = models.CharField(max_length=150, help_text="Shown to reps, e.g. 'Anna @ Acme (IG)'.")
    handle = models.CharField(max_length=255, blank=True, help_text="Address, page id or bot name.")
    credentials = EncryptedTextField(blank=True, help_text="Stored encrypted; never shown in full.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Limits.
    daily_cap = models.PositiveIntegerField(default=50)
    warmup_start_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="If set, the cap starts here and grows daily."
    )
    warmup_daily_increase = models.PositiveIntegerField(default=5)
    warmup_started_on = models.DateField(null=True, blank=True)
    min_gap_seconds = models.FloatField(default=60.0)
    max_gap_seconds = models.FloatField(default=180.0)
    window_start = models.TimeField(default=time(9, 0), help_text="In the contact's time zone.")
    window_end = models.TimeField(
        default=time(17, 0), help_text="May be before the start (overnight)."
    )
    window_days = models.CharField(
        max_length=7,
        default="01234",
        validators=[validate_weekdays],
        help_text="0=Monday … 6=Sunday.",
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Daily cap resets at midnight here; also the window for contacts without one.",
    )
    # Reply detection for email senders: IMAP polling of this mailbox (outreach/mailbox.py).
    # The password is `credentials`; no host means the mailbox is not polled.
    imap_host = models.CharField(max_length=255, blank=True, help_text="Empty: not polled.")
    imap_port = models.PositiveIntegerField(default=993)
    imap_tls = models.BooleanField(
        default=True, help_text="Implicit TLS (port 993). Off only for a loopback test server."
    )
    imap_username = models.CharField(max_length=255, blank=True, help_text="Empty: the handle.")
    imap_folder = models.CharField(max_length=255, default="INBOX")
    # Email senders: how mail leaves. Empty is SMTP (EMAIL_BACKEND); an ESP sends through its
    # HTTP API with django-anymail, and `credentials` is then that ESP's API key
    # (outreach/channels/email/esp.py).
    email_esp = models.CharField(
        max_length=20,
        blank=True,
        choices=[
            ("postmark", "Postmark"),
            ("mailgun", "Mailgun"),
            ("sendgrid", "SendGrid"),
            ("brevo", "Brevo"),
            ("amazon_ses", "Amazon SES"),
        ],
        help_text="Email only. Empty: SMTP. Otherwise the ESP whose API key is the credentials.",
    )
    # Health and control.
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=200, blank=True)
    health = models.CharField(max_length=20, choices=Health.choices, default=Health.OK)
    last_error = models.CharField(max_length=300, blank=True)
    # Limiter state: authoritative, changed only by conditional UPDATEs (outreach/limits.py).
    next_send_at = models.DateTimeField(null=True, blank=True)
    counter_day = models.DateField(null=True, blank=True)
    sent_today = models.PositiveIntegerField(default=0)
    inflight_message_id = models.BigIntegerField(null=True, blank=True)
    backoff_until = models.DateTimeField(null=True, blank=True)
    # Set by the bounce and complaint guards (deliverability/guards.py): between the warn
    # and pause thresholds the gap between sends widens by this factor.
    gap_factor = models.FloatField(default=1.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_gap_seconds__gte=models.F("min_gap_seconds")),
                name="sender_gap_range_valid",
            ),
            models.CheckConstraint(condition=Q(min_gap_seconds__gte=0), name="sender_gap_positive"),
            models.CheckConstraint(
                condition=Q(email_esp="") | Q(channel="email"), name="sender_esp_only_for_email"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_channel_display()})"

    def clean(self) -> None:
        gaps = (self.min_gap_seconds, self.max_gap_seconds)
        if None not in gaps and gaps[1] < gaps[0]:
            raise ValidationError({"max_gap_seconds": "Must be at least the minimum gap."})


class Conversation(models.Model):
    """One contact identity talking with one sender account."""

    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="conversations")
    sender = models.ForeignKey(
        SenderAccount, on_delete=models.CASCADE, related_name="conversations"
    )
    # Meta's 24 h window and WhatsApp's customer-service window open on their last message.
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    # The contact's latest comment on our post: Meta allows one private reply to it (7 days).
    comment_id = models.CharField(max_length=100, blank=True)
    comment_at = models.DateTimeField(null=True, blank=True)
    # Meta's handover protocol: "" while our app owns the thread (the default), else the app
    # that owns it ("other" when Meta did not name it, e.g. learnt from a standby event).
    # Automated sends wait while another app owns it (outreach/policy.py).
    thread_owner = models.CharField(max_length=64, blank=True)
    thread_owner_since = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["identity", "sender"], name="conversation_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.identity} ↔ {self.sender.name}"


# Channels whose message ids are unique only within one conversation: Telegram counts
# message_id per bot and chat (we store "<chat id>:<message id>"), and an email's Message-ID
# is whatever the sender's client wrote, so another sender may repeat it. Meta mids, WhatsApp
# wamids and X event ids are global.
CONVERSATION_SCOPED_IDS = ("email", "telegram")


class MessageQuerySet(models.QuerySet):
    def update(self, **kwargs) -> int:
        """Refuses an update filtered through another table. Django writes it as
        ``UPDATE … WHERE id IN (SELECT … JOIN …)``, and PostgreSQL rechecks a row that another
        transaction changed meanwhile only against the outer WHERE: a condition such as
        ``status = 'queued'`` inside the subquery is then not rechecked, so a send claimed a
        moment earlier would be cancelled or paused under its worker, holding its sender's
        slot for ever. Filter the other table in ``id__in=<subquery>`` instead, which keeps
        every condition on this table where the recheck sees it (docs/reliability.md,
        "Conditional updates")."""
        if self.query.count_active_tables() > 1:
            raise ValueError(
                "Message updates may not filter through a join: use id__in=<subquery> so "
                "the row's own conditions are rechecked under concurrent changes"
            )
        return super().update(**kwargs)


class Message(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND = "out", "Outbound"
        INBOUND = "in", "Inbound"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PAUSED = "paused", "Paused"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        UNKNOWN = "unknown", "Outcome unknown (needs review)"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"
        RECEIVED = "received", "Received"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    # Denormalized from the conversation: the limiter and dispatcher filter on them.
    sender = models.ForeignKey(SenderAccount, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(max_length=20, choices=channel_choices)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    status = models.CharField(max_length=20, choices=Status.choices)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    # Email only: the HTML alternative of `body` (escaped, paragraphs, clickable links), sent
    # as multipart/alternative. Empty: text only (DMs, rep replies, older messages).
    body_html = models.TextField(blank=True, default="")
    attachments = models.JSONField(default=list, blank=True, help_text="[{type, url, name}]")
    # Meta's HUMAN_AGENT tag (7-day window) is only for replies a person wrote.
    human_written = models.BooleanField(default=False)
    # The user who wrote a human_written reply, so support metrics credit who answered. Null
    # for machine messages and for replies written before it was recorded.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set: this is a public reply under that comment (Instagram/Facebook), not a DM.
    public_reply_to = models.CharField(max_length=100, blank=True)
    # Why a queued message is waiting, and until when. Shown in the admin and dashboard.
    hold_reason = models.CharField(max_length=200, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # False from a claim until its attempt calls the platform, then True. A claim left at
    # False never reached the platform (its worker died mid-batch), so it goes back to the
    # queue with no need to ask the platform. Null: claimed by a version without the mark,
    # which the reconciler asks the platform about, as it always did.
    send_started = models.BooleanField(null=True, blank=True)
    # The process that made the claim (outreach/sending/claimer.py). A reconciler on its
    # machine settles the claim as soon as that process is gone, not after SEND_GRACE. ""
    # where the process could not be named; the database's default keeps rows written by
    # hand in SQL (bench/) valid.
    claimed_by = models.CharField(max_length=100, blank=True, default="", db_default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.UUIDField(default=uuid.uuid4, editable=False)
    provider_message_id = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_reason = models.TextField(blank=True)
    # Inbound: the message of ours it answers (Telegram reply_to_message, Meta reply_to.mid,
    # WhatsApp context, a button under our message).
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    # Inbound: what a step can branch on: {"button": id} (WhatsApp interactive/button,
    # Messenger quick_reply, postback, Telegram callback_query), {"story": {"id", "url"}}.
    payload = models.JSONField(default=dict, blank=True)
    # Inbound: earlier texts, oldest first, each {"text", "at", "replaced_at"} (the body
    # holds the latest).
    edits = models.JSONField(default=list, blank=True)
    # Reactions the contact put on this message: [{"emoji", "action", "at"}], latest last.
    reactions = models.JSONField(default=list, blank=True)
    # The contact unsent it: the body is redacted, the fact is kept.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The campaign that sent it (outbound campaign messages only), written by the dispatcher
    # that creates them (campaigns/dispatch.py). A plain number, not a foreign key: outreach
    # sits below campaigns and knows none of its models. It lets the campaign dashboard find
    # the campaign's held messages through one small partial index (`message_campaign_held`)
    # instead of walking every held enrolment's step links to their messages.
    campaign_id = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="message_unique_idem_key"),
            # A platform's id names one message within its scope (outreach/inbound/match.py): the
            # whole channel where ids are global, one conversation everywhere.
            models.UniqueConstraint(
                fields=["channel", "provider_message_id"],
                condition=~Q(provider_message_id="") & ~Q(channel__in=CONVERSATION_SCOPED_IDS),
                name="message_unique_provider_id",
            ),
            models.UniqueConstraint(
                fields=["conversation", "direction", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_unique_provider_id_in_conv",
            ),
            # At most one public reply of ours under any comment.
            models.UniqueConstraint(
                fields=["channel", "public_reply_to"],
                condition=~Q(public_reply_to=""),
                name="message_one_public_reply",
            ),
        ]
        indexes = [
            # The dispatcher's "next queued message for this sender" lookup.
            models.Index(fields=["sender", "status", "id"], name="message_sender_status"),
            # A sender's sends in the last hour, per recipient provider (provider_caps.py).
            models.Index(fields=["sender", "sent_at"], name="message_sender_sent_at"),
            # The reconciler's "stuck in sending/unknown" sweep.
            models.Index(fields=["status", "claimed_at"], name="message_status_claimed"),
            # Finding our message by the id a reply names, where the unique index is per
            # conversation (email In-Reply-To, a quoted Telegram message).
            models.Index(
                fields=["channel", "provider_message_id"],
                condition=Q(channel__in=CONVERSATION_SCOPED_IDS),
                name="message_scoped_provider_id",
            ),
            # A sender's failures of the last day (the sender health panel), without reading
            # every failure it ever had.
            models.Index(
                fields=["sender", "created_at"],
                condition=Q(status="failed"),
                name="message_sender_failed",
            ),
            # A campaign's held messages (queued, paused, unknown) with what the dashboard
            # counts them by, read from the index alone (analytics/held.py): a few thousand
            # index entries rather than a walk through three big tables.
            models.Index(
                fields=["campaign_id"],
                include=["id", "status", "hold_reason", "sender", "not_before"],
                condition=Q(status__in=["queued", "paused", "unknown"], campaign_id__isnull=False),
                name="message_campaign_held",
            ),
        ]

    def __str__(self) -> str:
        arrow = "→" if self.direction == self.Direction.OUTBOUND else "←"
        return f"{arrow} {self.get_channel_display()} #{self.pk} ({self.status})"


class MessageEvent(models.Model):
    """Status history of a message: every transition, with when and why."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=20, choices=Message.Status.choices)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.status} at {self.at:%Y-%m-%d %H:%M:%S}"


class InboundEvent(models.Model):
    """A raw webhook or polled event, stored before it is processed (never lost, never twice)."""

    provider = models.CharField(max_length=40)
    provider_event_id = models.CharField(max_length=255)
    sender = models.ForeignKey(
        SenderAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The parsed summary, with what JSON in PostgreSQL cannot hold (NUL, lone surrogates)
    # replaced; {} when the body could not be parsed (processing parses `raw` again).
    payload = models.JSONField()
    # The body byte for byte as received (the webhook body, or the mail as fetched).
    raw = models.BinaryField(blank=True, default=b"")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)  # the sweeper's next try
    # Failed every retry: left aside (never blocking later events) until replayed.
    quarantined_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_event_id"], name="inbound_event_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=models.Q(processed_at=None, quarantined_at=None),
                name="inbound_event_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} event {self.provider_event_id}"

    @property
    def status(self) -> str:
        if self.processed_at:
            return "processed"
        if self.quarantined_at:
            return "quarantined"
        return "retrying" if self.attempts else "pending"


class MailboxCursor(models.Model):
    """How far IMAP polling has read a sender's mailbox (RFC 3501 UIDVALIDITY + last UID)."""

    sender = models.OneToOneField(
        SenderAccount, on_delete=models.CASCADE, related_name="mailbox_cursor"
    )
    uidvalidity = models.BigIntegerField(default=0)
    last_uid = models.BigIntegerField(default=0)
    polled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.sender.name}: UID {self.last_uid} (validity {self.uidvalidity})"


class ManualTask(models.Model):
    """A step no platform lets us automate (LinkedIn, TikTok, Snapchat): a rep does it by hand."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="manual_task")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["done_at", "created_at"]

    def __str__(self) -> str:
        return f"Manual {self.message.get_channel_display()} message #{self.message_id}"


class WorkerHeartbeat(models.Model):
    """Written by a Celery task: proves a worker is alive and the broker round-trips."""

    token = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.hostname or 'worker'} at {self.at:%H:%M:%S}"


class SendingSwitch(models.Model):
    """The global kill switch: one row. While paused, nothing is claimed for sending."""

    paused = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "sending switches"  # not Django's "sending switchs"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="sending_switch_singleton")]

    def __str__(self) -> str:
        return "Sending paused" if self.paused else "Sending on"

    @classmethod
    def is_paused(cls) -> bool:
        return cls.objects.filter(id=1, paused=True).exists()


# The inbox's models live in their own module; imported here so Django registers them.
from outreach.inbox.models import (  # noqa: E402, F401
    ConversationNote,
    ConversationState,
    MessageIntent,
)
from outreach.provider_caps import SenderProviderCap  # noqa: E402, F401
from outreach.team_caps import TeamChannelCap  # noqa: E402, F401


class MediaAsset(models.Model):
    """An image, video, voice note, GIF or file for templates: uploaded (kept under
    VAR_DIR/media) or a URL. Templates reference it as {"asset": <id>} in their attachments."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"
        VOICE = "voice", "Voice note"
        GIF = "gif", "GIF"
        FILE = "file", "File"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file = models.FileField(upload_to="media/%Y/%m/", blank=True)
    url = models.URLField(max_length=1000, blank=True, help_text="Instead of an upload.")
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes.")
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(file="") | ~Q(url=""), name="media_asset_file_or_url"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def save(self, *args, **kwargs) -> None:
        if self.file and not self.size:
            self.size = self.file.size
        if self.file and not self.content_type:
            self.content_type = getattr(self.file.file, "content_type", "") or ""
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if bool(self.file) == bool(self.url):
            raise ValidationError("Upload a file or give a URL (one of them).")

    @property
    def public_url(self) -> str:
        """What a platform fetches: the URL as given, or a signed link to the upload that
        works without a login until it expires (MEDIA_LINK_MAX_AGE)."""
        if self.url:
            return self.url
        from django.core.signing import TimestampSigner
        from django.urls import reverse

        sig = TimestampSigner(salt="outreach.media").sign(str(self.pk)).split(":", 1)[1]
        path = reverse("outreach:media_file", args=[self.pk])
        return f"{settings.PUBLIC_URL.rstrip('/')}{path}?sig={sig}"
