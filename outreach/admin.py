from django import forms
from django.contrib import admin
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Q
from django.utils.translation import ngettext

from core.admin_confirm import action_confirmation, action_confirmed, action_result
from outreach.fields import mask
from outreach.inbound.process import inbound_events_replay
from outreach.media import upload_check
from outreach.models import (
    Conversation,
    InboundEvent,
    ManualTask,
    MediaAsset,
    Message,
    MessageEvent,
    SenderAccount,
    SenderProviderCap,
    SendingSwitch,
    WorkerHeartbeat,
)
from outreach.sending.control import sender_pause, sender_resume, sending_switch_set


class SenderAccountForm(forms.ModelForm):
    # Write-only: the stored secret is never sent back to the browser.
    credentials = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored credentials.",
    )

    class Meta:
        model = SenderAccount
        fields = [
            "channel",
            "name",
            "handle",
            "credentials",
            "owner",
            "daily_cap",
            "warmup_start_cap",
            "warmup_daily_increase",
            "warmup_started_on",
            "min_gap_seconds",
            "max_gap_seconds",
            "window_days",
            "window_start",
            "window_end",
            "time_zone",
            "paused",
            "paused_reason",
            "imap_host",
            "imap_port",
            "imap_tls",
            "imap_username",
            "imap_folder",
            "email_esp",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.credentials:
            self.fields[
                "credentials"
            ].help_text = f"Stored: {mask(self.instance.credentials)}. Leave empty to keep it."

    def clean_credentials(self) -> str:
        value = self.cleaned_data.get("credentials", "")
        return value or (self.instance.credentials if self.instance.pk else "")


class SenderPauseForm(forms.Form):
    reason = forms.CharField(max_length=200, required=False, help_text="Shown on the dashboard.")


class SenderProviderCapInline(admin.TabularInline):
    """Hourly caps per recipient provider; reached only through the sender's own page, so
    scoped as the sender is (campaigns/security_admin.py)."""

    model = SenderProviderCap
    extra = 1
    verbose_name = "provider cap"
    verbose_name_plural = "Per-provider hourly caps (e.g. google: 20 per hour)"


@admin.register(SenderAccount)
class SenderAccountAdmin(admin.ModelAdmin):
    form = SenderAccountForm
    inlines = [SenderProviderCapInline]
    list_display = [
        "name",
        "channel",
        "handle",
        "daily_cap",
        "sent_today",
        "next_send_at",
        "paused",
        "health",
        "queued_count",
    ]
    list_filter = ["channel", "paused", "health"]
    search_fields = ["name", "handle"]
    autocomplete_fields = ["owner"]
    readonly_fields = [
        "health",
        "last_error",
        "next_send_at",
        "counter_day",
        "sent_today",
        "inflight_message_id",
        "backoff_until",
        "created_at",
    ]
    actions = ["pause", "resume"]
    fieldsets = [
        (None, {"fields": ["channel", "name", "handle", "email_esp", "credentials", "owner"]}),
        (
            "Limits",
            {
                "fields": [
                    "daily_cap",
                    "warmup_start_cap",
                    "warmup_daily_increase",
                    "warmup_started_on",
                    "min_gap_seconds",
                    "max_gap_seconds",
                ]
            },
        ),
        ("Sending window", {"fields": ["window_days", "window_start", "window_end", "time_zone"]}),
        ("Health", {"fields": ["paused", "paused_reason", "health", "last_error"]}),
        (
            "Reply detection (email: IMAP)",
            {"fields": ["imap_host", "imap_port", "imap_tls", "imap_username", "imap_folder"]},
        ),
        (
            "Limiter state",
            {
                "classes": ["collapse"],
                "fields": [
                    "next_send_at",
                    "counter_day",
                    "sent_today",
                    "inflight_message_id",
                    "backoff_until",
                    "created_at",
                ],
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_queued=Count("messages", filter=Q(messages__status=Message.Status.QUEUED)))
        )

    @admin.display(description="Queued", ordering="_queued")
    def queued_count(self, obj: SenderAccount) -> int:
        return obj._queued  # type: ignore[attr-defined]

    @admin.action(description="Pause selected senders…", permissions=["change"])
    def pause(self, request, queryset):
        form = SenderPauseForm(request.POST if "confirm" in request.POST else None)
        if not action_confirmed(request, form):
            return action_confirmation(
                self,
                request,
                queryset,
                action="pause",
                title="Pause senders",
                will_change=queryset.filter(paused=False).count(),
                note="Their queued messages wait until the sender is resumed.",
                form=form,
            )
        reason = form.cleaned_data["reason"] or f"paused by {request.user}"
        changed = 0
        for sender in queryset.filter(paused=False):
            sender_pause(sender=sender, reason=reason, actor=request.user)
            changed += 1
        self.message_user(request, action_result(changed, queryset.count(), "sender", "paused"))
        return None

    @admin.action(description="Resume selected senders…", permissions=["change"])
    def resume(self, request, queryset):
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="resume",
                title="Resume senders",
                will_change=queryset.filter(paused=True).count(),
            )
        changed = 0
        for sender in queryset.filter(paused=True):
            sender_resume(sender=sender, actor=request.user)
            changed += 1
        self.message_user(request, action_result(changed, queryset.count(), "sender", "resumed"))
        return None


class MessageEventInline(admin.TabularInline):
    model = MessageEvent
    extra = 0
    can_delete = False
    fields = ("at", "status", "detail")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "direction",
        "channel",
        "status",
        "recipient",
        "sender",
        "hold_reason",
        "not_before",
        "sent_at",
        "created_at",
    ]
    list_filter = ["status", "direction", "channel", "sender"]
    search_fields = ["body", "provider_message_id", "conversation__identity__value"]
    list_select_related = ["sender", "conversation__identity"]
    readonly_fields = [
        "conversation",
        "sender",
        "channel",
        "direction",
        "status",
        "hold_reason",
        "not_before",
        "enqueued_at",
        "claimed_at",
        "sent_at",
        "attempts",
        "idempotency_key",
        "provider_message_id",
        "error_code",
        "error_reason",
        "created_at",
    ]
    fields = (
        *readonly_fields[:4],
        "subject",
        "body",
        "body_html",
        "attachments",
        *readonly_fields[4:],
    )
    readonly_fields = [*readonly_fields, "body_html"]
    inlines = [MessageEventInline]

    @admin.display(description="To / from")
    def recipient(self, obj: Message) -> str:
        return obj.conversation.identity.value

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["identity", "sender", "last_inbound_at", "last_outbound_at", "assigned_to"]
    list_filter = ["sender__channel", "sender"]
    search_fields = [
        "identity__value",
        "identity__contact__first_name",
        "identity__contact__last_name",
    ]
    list_select_related = ["identity", "sender", "assigned_to"]
    autocomplete_fields = ["identity", "sender", "assigned_to"]
    readonly_fields = ["last_inbound_at", "last_outbound_at", "created_at"]


class InboundStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(s, s) for s in ("pending", "retrying", "quarantined", "processed")]

    def queryset(self, request, queryset):
        waiting = queryset.filter(processed_at=None, quarantined_at=None)
        return {
            "pending": waiting.filter(attempts=0),
            "retrying": waiting.filter(attempts__gt=0),
            "quarantined": queryset.filter(processed_at=None).exclude(quarantined_at=None),
            "processed": queryset.exclude(processed_at=None),
        }.get(self.value() or "", queryset)


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = [
        "provider",
        "provider_event_id",
        "sender",
        "received_at",
        "status",
        "attempts",
        "short_error",
    ]
    list_filter = [InboundStatusFilter, "provider", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["provider_event_id"]
    readonly_fields = [
        "provider",
        "provider_event_id",
        "sender",
        "payload",
        "raw_text",
        "received_at",
        "processed_at",
        "status",
        "attempts",
        "retry_at",
        "quarantined_at",
        "error",
    ]
    actions = ["replay"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Error")
    def short_error(self, obj: InboundEvent) -> str:
        return obj.error[:120]

    @admin.display(description="Raw body (as received, first 20 000 bytes)")
    def raw_text(self, obj: InboundEvent) -> str:
        raw = bytes(obj.raw)
        shown = raw[:20000].decode("utf-8", "backslashreplace")
        return f"{shown}\n… ({len(raw)} bytes)" if len(raw) > 20000 else shown

    @admin.action(
        description="Replay selected events (process them again now)", permissions=["change"]
    )
    def replay(self, request, queryset):
        ids = list(queryset.filter(processed_at=None).order_by("id").values_list("id", flat=True))
        outcomes = inbound_events_replay(event_ids=ids)
        done = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        skipped = queryset.count() - len(ids)
        note = f"; {skipped} already processed, left alone" if skipped else ""
        events = ngettext("event", "events", len(ids))
        self.message_user(request, f"Replayed {len(ids)} {events}: {done or 'none'}{note}.")


@admin.register(ManualTask)
class ManualTaskAdmin(admin.ModelAdmin):
    list_display = ["__str__", "assignee", "created_at", "done_at"]
    list_filter = [("done_at", admin.EmptyFieldListFilter)]
    autocomplete_fields = ["assignee"]
    readonly_fields = ["message", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # made by the engine for each manual step's message


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "at", "token"]
    readonly_fields = ["hostname", "at", "token"]


@admin.register(SendingSwitch)
class SendingSwitchAdmin(admin.ModelAdmin):
    list_display = ["__str__", "reason", "changed_by", "changed_at"]
    fields = ["paused", "reason", "changed_by", "changed_at"]
    readonly_fields = ["changed_by", "changed_at"]

    def has_add_permission(self, request) -> bool:
        return not SendingSwitch.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting the row would turn sending back on with no audit entry: switch it off
        # by unticking "paused", which goes through sending_switch_set.
        return False

    def save_model(self, request, obj, form, change) -> None:
        # Through the service, so the change is audited and held messages are released.
        obj.pk = 1
        sending_switch_set(paused=obj.paused, reason=obj.reason, actor=request.user)
        obj.refresh_from_db()


class MediaAssetForm(forms.ModelForm):
    """An upload is judged by its bytes (outreach.media.upload_check): the stored content
    type and size are what the file is, not what its name or the browser said."""

    url = forms.URLField(
        required=False, max_length=1000, assume_scheme="https", help_text="Instead of an upload."
    )

    class Meta:
        model = MediaAsset
        fields = ["name", "kind", "file", "url", "size", "content_type"]
        help_texts = {
            "size": "Bytes. Filled in from an upload.",
            "content_type": "Filled in from an upload's content; give it for a URL.",
        }

    def clean(self):
        super().clean()
        data = self.cleaned_data
        upload, kind = data.get("file"), data.get("kind")
        new_upload = isinstance(upload, UploadedFile)
        edited = {"kind", "content_type", "size"} & set(self.changed_data)
        if not kind or not upload or not (new_upload or edited):
            return data
        try:
            if new_upload:
                ctype = upload_check(kind, upload)
            else:  # kind or type edited: judged again from the stored file's bytes
                with upload.open("rb") as stored:
                    ctype = upload_check(kind, stored)
        except ValueError as e:
            self.add_error("file", str(e))
            return data
        data["content_type"] = self.instance.content_type = ctype
        data["size"] = self.instance.size = upload.size
        return data


@admin.register(MediaAsset)
class MediaAssetAdmin(admin.ModelAdmin):
    form = MediaAssetForm
    list_display = ["name", "kind", "content_type", "size", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "url"]
    readonly_fields = ["created_at"]


from outreach.inbox import admin as _inbox_admin  # noqa: E402, F401  (registers SavedReplyAdmin)
