from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.db.models.lookups import Exact

from contacts.channels import channel_choices
from contacts.validators import validate_country, validate_custom_fields, validate_time_zone


class JSONType(models.Func):
    """The JSON type of a value: "object", "array", "string"... (jsonb_typeof on PostgreSQL,
    json_type on SQLite; both name an object "object")."""

    function = "JSON_TYPE"
    output_field = models.CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="JSONB_TYPEOF", **extra_context)


class Tag(models.Model):
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    company = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Europe/Berlin. Sending windows are evaluated in it.",
    )
    country = models.CharField(
        max_length=2, blank=True, validators=[validate_country], help_text="ISO 3166-1 alpha-2"
    )
    locale = models.CharField(max_length=16, blank=True, help_text="e.g. de-DE")
    custom_fields = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_custom_fields],
        help_text='Names to plain values, e.g. {"industry": "SaaS", "seats": 12}.',
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    # Global opt-out ("stop contacting me anywhere"); per-channel opt-out is on Identity.
    opted_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Plain ids, not foreign keys: deleting an import must not touch a million contacts.
    # created_by_import serves rollback; last_import tells a later row of the same file
    # (a duplicate) from a contact that existed before the import.
    created_by_import = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    last_import = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["last_name", "first_name"])]
        constraints = [
            # Templates, previews and the CSV import read custom fields as an object; a list
            # or a string written past the validator (raw SQL, an old row) broke each of them.
            models.CheckConstraint(
                condition=Exact(JSONType("custom_fields"), "object"),
                name="contact_custom_fields_object",
            )
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        if name and self.company:
            return f"{name} ({self.company})"
        return name or self.company or f"Contact #{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Identity(models.Model):
    """One way to reach a contact on one channel: an address, number or handle."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    channel = models.CharField(max_length=20, choices=channel_choices)
    value = models.CharField(
        max_length=255, help_text="Normalized: lower-case email, E.164 phone, bare handle."
    )
    platform_user_id = models.CharField(
        max_length=128,
        blank=True,
        help_text="The platform's own id (PSID, IGSID, X user id, Telegram chat id).",
    )
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(max_length=100, blank=True)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    opt_out_source = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_import = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["channel", "value"], name="identity_unique_value"),
            models.UniqueConstraint(
                fields=["channel", "platform_user_id"],
                condition=~Q(platform_user_id=""),
                name="identity_unique_platform_id",
            ),
            models.CheckConstraint(condition=~Q(value=""), name="identity_value_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.value}"

    @property
    def is_opted_out(self) -> bool:
        return self.opted_out_at is not None or self.contact.opted_out_at is not None


class ConsentRecord(models.Model):
    """Append-only audit of consent and opt-out decisions, with where they came from."""

    class Kind(models.TextChoices):
        GRANTED = "granted", "Consent granted"
        OPTED_OUT = "opted_out", "Opted out"
        REINSTATED = "reinstated", "Opt-out reversed by a human"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_records")
    identity = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="consent_records"
    )
    channel = models.CharField(
        max_length=20, choices=channel_choices, blank=True, help_text="Empty means every channel."
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    source = models.CharField(max_length=100, help_text="e.g. csv import, webhook, reply, admin")
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        scope = self.get_channel_display() if self.channel else "all channels"
        return f"{self.get_kind_display()} ({scope}) via {self.source}"


class Suppression(models.Model):
    """Never contact this address, whoever imports it again (opt-outs, bounces, complaints,
    erasures, legal). Only a peppered SHA-256 of channel and address is kept
    (contacts.services.suppression_digest), never the address: an erased person's entry
    then holds nothing that names them, and every check hashes the address it looks up."""

    channel = models.CharField(
        max_length=20, choices=channel_choices, blank=True, help_text="Empty means every channel."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        where = self.get_channel_display() or "all channels"
        return f"suppressed address {self.digest[:12]}… ({where})"


class SavedMapping(models.Model):
    """A column mapping kept for the next file from the same source ("HubSpot export")."""

    name = models.CharField(max_length=100, unique=True)
    # {header as written in the file: target}, so column order may change between files.
    columns = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ContactImport(models.Model):
    """One uploaded file and everything known about importing it."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded, waiting for mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        CANCELLING = "cancelling", "Cancelling"
        CANCELLED = "cancelled", "Cancelled"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        ROLLED_BACK = "rolled_back", "Rolled back"

    class Mode(models.TextChoices):
        CREATE = "create", "Create new contacts only"
        UPDATE = "update", "Create new and update existing contacts"
        FILL = "fill", "Create new and fill blank fields of existing contacts"

    original_name = models.CharField(max_length=255)
    path = models.CharField(max_length=500, help_text="Where the uploaded file is kept on disk.")
    size = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UPLOADED)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.UPDATE)
    default_country = models.CharField(
        max_length=2, blank=True, help_text="For phone numbers written without +country code."
    )
    sniffed = models.JSONField(default=dict, blank=True, help_text="Encoding, delimiter, header.")
    mapping = models.JSONField(default=list, blank=True, help_text="A target per column.")
    tags = models.JSONField(default=list, blank=True, help_text="Tags given to every row.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Owner of the contacts this import creates.",
    )
    # Read by ContactsEvents.contacts_imported (campaigns: {"then": "campaign:3"}).
    hook_options = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Progress: records_done is the checkpoint a resumed import skips to. It is written in the
    # same transaction as the batch it counts, so it never runs ahead of the data.
    records_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(
        default=0, help_text="Rows merged into an earlier row."
    )
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(
        default=0, help_text="Values left out of rows that were imported (e.g. a bad country)."
    )
    size_done = models.BigIntegerField(default=0, help_text="Bytes read, for the progress bar.")
    message = models.TextField(blank=True, help_text="Why the file as a whole failed.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds_running = models.FloatField(default=0)
    # The run that holds the import and when it last proved alive (claim, each committed
    # batch). Checkpoints are fenced by run_token, so a run the sweeper gave up on can never
    # write a batch after its replacement took over (contacts/imports.py, "Lost runs").
    run_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lost_runs = models.PositiveSmallIntegerField(
        default=0, help_text="Runs lost in a row without a committed batch (reset by progress)."
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="import_heartbeat")]

    def __str__(self) -> str:
        return f"Import #{self.pk}: {self.original_name}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, int(self.size_done * 100 / self.size)) if self.size else 0

    @property
    def rows_per_second(self) -> int:
        return int(self.records_done / self.seconds_running) if self.seconds_running else 0

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING, self.Status.CANCELLING)


class ContactImportError(models.Model):
    """A row or value the import did not take, with the original row for the error CSV."""

    contact_import = models.ForeignKey(
        ContactImport, on_delete=models.CASCADE, related_name="errors"
    )
    line = models.PositiveIntegerField()
    column = models.CharField(max_length=255, blank=True)
    reason = models.TextField()
    row = models.JSONField(default=list, help_text="The original cells.")
    warning = models.BooleanField(
        default=False, help_text="The row was imported without this value."
    )

    class Meta:
        ordering = ["contact_import", "line", "id"]

    def __str__(self) -> str:
        return f"line {self.line} {self.column}: {self.reason}"


# Models kept in their own modules; imported here so Django registers them with this app.
from contacts.invitations import Invitation  # noqa: E402, F401
