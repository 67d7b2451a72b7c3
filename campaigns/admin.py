import difflib
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext

from campaigns.access import (
    home_team_of,
    sequences_visible_to,
    steps_visible_to,
    template_edit_refusal,
    templates_visible_to,
)
from campaigns.bulk import contacts_opt_out, enrollments_unenrol
from campaigns.counters import counters_after_enrol
from campaigns.models import (
    Campaign,
    Enrollment,
    Sequence,
    Step,
    StepAlternative,
    StepSend,
    Template,
    TemplateVariant,
    TemplateVersion,
)
from campaigns.preview import preview_lint, preview_sample, template_preview
from campaigns.services import (
    LIVE,
    LaunchError,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    enrollment_pause,
    enrollment_resume,
)
from campaigns.template_forms import validate_template_text
from campaigns.versions import sequence_changes_record, steps_state, template_version_record
from contacts.access import contacts_visible_to
from contacts.channels import CHANNEL_CHOICES
from contacts.models import Contact
from core.access import ADMIN, ScopedAdminMixin, role_of, teams_visible_to
from core.admin_confirm import action_confirmation, action_confirmed, action_result

E = Enrollment.State


def _local(at: datetime) -> str:
    """A time as the admin shows it, with its zone named so nobody has to guess it."""
    return f"{timezone.localtime(at):%a %d %b %Y %H:%M} {timezone.get_current_timezone_name()}"


class _CompiledTextForm(forms.ModelForm):
    """Subject and body must compile (syntax, spintax, known variables) to be saved."""

    def clean_subject(self) -> str:
        validate_template_text(self.cleaned_data["subject"])
        return self.cleaned_data["subject"]

    def clean_body(self) -> str:
        validate_template_text(self.cleaned_data["body"])
        return self.cleaned_data["body"]


class TemplateVariantInline(admin.TabularInline):
    model = TemplateVariant
    form = _CompiledTextForm
    extra = 0


class TemplateVersionInline(admin.StackedInline):
    """Read-only history: what each version sent, and how it differs from the one before."""

    model = TemplateVersion
    extra = 0
    can_delete = False
    fields = ("number", "created_at", "created_by", "subject", "body", "changes")
    readonly_fields = fields
    ordering = ["-number"]
    verbose_name_plural = "versions (newest first; messages show the version they used)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Changes from the version before")
    def changes(self, obj: TemplateVersion) -> str:
        before = TemplateVersion.objects.filter(
            template_id=obj.template_id, number=obj.number - 1
        ).first()
        if before is None:
            return "-"
        lines: list[str] = []
        for field in ("subject", "body"):
            lines += difflib.unified_diff(
                str(getattr(before, field)).splitlines(),
                str(getattr(obj, field)).splitlines(),
                f"{field} {before.label}",
                f"{field} {obj.label}",
                lineterm="",
            )
        if before.attachments != obj.attachments:
            lines.append("attachments changed")
        if before.variants != obj.variants:
            lines.append("A/B variants changed")
        return format_html(
            '<pre style="white-space: pre-wrap">{}</pre>', "\n".join(lines) or "no text change"
        )


@admin.register(Template)
class TemplateAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = _CompiledTextForm
    visible_to = templates_visible_to
    list_display = ["name", "channel", "team", "updated_at", "preview_link"]
    list_filter = ["channel"]
    search_fields = ["name", "subject", "body"]
    inlines = [TemplateVariantInline, TemplateVersionInline]
    readonly_fields = ["created_by", "created_at", "updated_at", "preview_link"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = teams_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None) -> bool:
        # Read-only (with the reason shown) when another team's campaign sends it.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or not template_edit_refusal(request.user, obj))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        refusal = template_edit_refusal(request.user, obj) if obj is not None else ""
        if refusal and request.method == "GET":
            messages.warning(request, refusal)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
            if obj.team_id is None and role_of(request.user) != ADMIN:
                obj.team = teams_visible_to(request.user).first()  # shared only by an admin
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        # After the variants are saved too: a version covers the template and its variants.
        super().save_related(request, form, formsets, change)
        template_version_record(template=form.instance, actor=request.user)

    @admin.display(description="Preview")
    def preview_link(self, obj: Template) -> str:
        if not obj.pk:
            return "-"
        return format_html(
            '<a href="{}">Preview in admin</a> · <a href="{}">Edit with live preview</a>',
            reverse("admin:campaigns_template_preview", args=[obj.pk]),
            reverse("templates:edit", args=[obj.pk]),
        )

    def get_urls(self):
        extra = [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="campaigns_template_preview",
            )
        ]
        return extra + super().get_urls()

    def preview_view(self, request, pk: int):
        """The saved template for a chosen contact (?contact=id) or a random sample."""
        template = get_object_or_404(templates_visible_to(request.user), pk=pk)
        channel = request.GET.get("channel") or template.channel or "email"
        subject, body = template.subject, template.body
        # Only contacts the user may see: another team's id is as if not given.
        visible = contacts_visible_to(request.user)
        if request.GET.get("sample"):
            previews = preview_sample(
                template=template, subject=subject, body=body, channel=channel, contacts=visible
            )
        else:
            asked = request.GET.get("contact", "")
            contact = visible.filter(pk=asked).first() if asked.isdigit() else None
            contact = contact or visible.order_by("-id").first()
            previews = (
                [
                    template_preview(
                        template=template,
                        subject=subject,
                        body=body,
                        channel=channel,
                        contact=contact,
                    )
                ]
                if contact
                else []
            )
        return TemplateResponse(
            request,
            "admin/campaigns/template_preview.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Preview: {template}",
                "opts": self.model._meta,
                "original": template,
                "previews": previews,
                "issues": preview_lint(
                    channel=channel,
                    previews=previews,
                    subject=subject,
                    body=body,
                ),
                "channel": channel,
                "channels": [c for c, _ in CHANNEL_CHOICES],
                "contacts": visible.order_by("-id")[:50],
            },
        )


class StepInline(admin.TabularInline):
    model = Step
    extra = 1
    autocomplete_fields = ["template"]
    fields = [
        "position",
        "channel",
        "delay",
        "business_days",
        "template",
        "condition",
        "condition_channel",
        "on_refused",
    ]
    show_change_link = True  # the step's own page holds its channel alternatives


class StepAlternativeInline(admin.TabularInline):
    model = StepAlternative
    extra = 1
    autocomplete_fields = ["template"]
    fields = ["position", "channel", "template"]


@admin.register(Step)
class StepAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """One step with its channel alternatives: e.g. Instagram DM, else a WhatsApp template,
    else email, each with its own template. Listed to whoever sees its template."""

    visible_to = steps_visible_to

    list_display = ["__str__", "channel", "template", "on_refused", "alternative_count"]
    list_filter = ["channel", "on_refused"]
    list_select_related = ["sequence", "template"]
    search_fields = ["sequence__name", "template__name"]
    autocomplete_fields = ["template"]
    fields = [
        "sequence",
        "position",
        "channel",
        "delay",
        "business_days",
        "template",
        "condition",
        "condition_channel",
        "on_refused",
    ]
    readonly_fields = ["sequence"]
    inlines = [StepAlternativeInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_alternatives=Count("alternatives"))

    @admin.display(description="Alternatives", ordering="_alternatives")
    def alternative_count(self, obj: Step) -> int:
        return obj._alternatives  # type: ignore[attr-defined]

    def has_add_permission(self, request) -> bool:
        return False  # steps are added in their sequence


@admin.register(Sequence)
class SequenceAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Listed to whoever may see it (campaigns/access.py `sequences_visible_to`)."""

    visible_to = sequences_visible_to
    list_display = ["name", "team", "created_by", "step_count", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["created_by"]
    inlines = [StepInline]

    def save_model(self, request, obj, form, change) -> None:
        if not change:  # the author's, as a sequence built in the app
            obj.created_by = request.user
            obj.team = obj.team or home_team_of(request.user)
        super().save_model(request, obj, form, change)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_steps=Count("steps"))

    def save_related(self, request, form, formsets, change) -> None:
        # A step change on a launched campaign's sequence goes to that campaign's history.
        before = steps_state(sequence=form.instance) if change else {}
        super().save_related(request, form, formsets, change)
        if change:
            sequence_changes_record(sequence=form.instance, before=before, actor=request.user)

    @admin.display(description="Steps", ordering="_steps")
    def step_count(self, obj: Sequence) -> int:
        return obj._steps  # type: ignore[attr-defined]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "status",
        "sequence",
        "owner",
        "enrolled",
        "active",
        "replied",
        "sent",
        "launched_at",
        "dashboard_link",
    ]
    list_filter = ["status", "owner"]
    search_fields = ["name"]
    autocomplete_fields = ["sequence", "owner"]
    filter_horizontal = ["senders"]
    readonly_fields = ["status", "created_at", "launched_at"]
    list_select_related = ["sequence", "owner"]
    actions = ["launch", "pause", "resume"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Swapping a launched campaign's sequence would orphan its sent history on the
        # dashboard, with no audit entry: a new sequence is a new campaign.
        if obj is not None and obj.launched_at is not None:
            fields.append("sequence")
        return fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _enrolled=Count("enrollments"),
                _active=Count(
                    "enrollments", filter=Q(enrollments__state__in=[E.ACTIVE, E.WAITING])
                ),
                _replied=Count("enrollments", filter=Q(enrollments__state=E.REPLIED)),
                # A subquery, not a second join: joining messages too would multiply the rows
                # the enrollment counts above are taken over.
                _sent=Subquery(
                    StepSend.objects.filter(
                        enrollment__campaign=OuterRef("pk"), message__sent_at__isnull=False
                    )
                    .values("enrollment__campaign")
                    .annotate(n=Count("id"))
                    .values("n"),
                    output_field=IntegerField(),
                ),
            )
        )

    @admin.display(description="Sent", ordering="_sent")
    def sent(self, obj) -> int:
        return obj._sent or 0

    @admin.display(description="Dashboard")
    def dashboard_link(self, obj: Campaign) -> str:
        return format_html(
            '<a href="{}">Dashboard</a>', reverse("dashboards:campaign", args=[obj.pk])
        )

    @admin.display(description="Enrolled", ordering="_enrolled")
    def enrolled(self, obj) -> int:
        return obj._enrolled

    @admin.display(description="Active", ordering="_active")
    def active(self, obj) -> int:
        return obj._active

    @admin.display(description="Replied", ordering="_replied")
    def replied(self, obj) -> int:
        return obj._replied

    @admin.action(description="Launch selected campaigns", permissions=["change"])
    def launch(self, request, queryset):
        confirmed = "confirm_warnings" in request.POST
        to_confirm = []
        for campaign in queryset:
            try:
                campaign_launch(campaign=campaign, confirm_warnings=confirmed, actor=request.user)
                self.message_user(request, f"“{campaign}” launched.")
            except LaunchError as exc:
                for problem in exc.problems:
                    self.message_user(request, f"“{campaign}”: {problem}", messages.ERROR)
                if exc.needs_confirmation:
                    to_confirm.append((campaign, exc.warnings))
        if not to_confirm:
            return None
        # Lint warnings (not errors): launch only after the rep has read and confirmed them.
        return TemplateResponse(
            request,
            "admin/campaigns/launch_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "title": "Launch despite warnings?",
                "to_confirm": to_confirm,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Pause selected campaigns…", permissions=["change"])
    def pause(self, request, queryset):
        running = queryset.filter(status=Campaign.Status.RUNNING)
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="pause",
                title="Pause campaigns",
                will_change=running.count(),
                note="Queued messages wait; a message already being sent finishes.",
            )
        changed = sum(
            campaign_pause(campaign=c, actor=request.user).status == Campaign.Status.PAUSED
            for c in running
        )
        self.message_user(request, action_result(changed, queryset.count(), "campaign", "paused"))
        return None

    @admin.action(description="Resume selected campaigns…", permissions=["change"])
    def resume(self, request, queryset):
        paused = queryset.filter(status=Campaign.Status.PAUSED)
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="resume",
                title="Resume campaigns",
                will_change=paused.count(),
            )
        changed = sum(
            campaign_resume(campaign=c, actor=request.user).status == Campaign.Status.RUNNING
            for c in paused
        )
        self.message_user(request, action_result(changed, queryset.count(), "campaign", "resumed"))
        return None


class StepSendInline(admin.TabularInline):
    model = StepSend
    extra = 0
    can_delete = False
    fields = (
        "step",
        "channel",
        "template_version",
        "variant",
        "message",
        "message_status",
        "hold_reason",
        "rerouted_at",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Channel")
    def channel(self, obj: StepSend) -> str:
        # Which of the step's channels this attempt used: its own, or an alternative.
        alt = f" (alternative {obj.route})" if obj.route else ""
        return f"{obj.message.get_channel_display()}{alt}"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("step__sequence", "variant", "message", "template_version__template")
        )

    @admin.display(description="Status")
    def message_status(self, obj: StepSend) -> str:
        return obj.message.get_status_display()

    @admin.display(description="Why not sent")
    def hold_reason(self, obj: StepSend) -> str:
        return obj.message.hold_reason


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = [
        "contact",
        "campaign",
        "state",
        "current_step",
        "next_step",
        "sender",
    ]
    list_filter = ["state", "campaign"]
    search_fields = ["contact__first_name", "contact__last_name", "contact__company"]
    list_select_related = ["contact", "campaign", "sender"]
    autocomplete_fields = ["contact", "campaign", "sender"]
    readonly_fields = [
        "state",
        "current_step",
        "next_action_at",
        "hold_reason",
        "replied_at",
        "created_at",
        "updated_at",
    ]
    inlines = [StepSendInline]
    actions = ["pause", "resume", "unenrol", "opt_out_contacts"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Moving an enrollment to another campaign or contact would leave both campaigns'
        # counters and the sent history wrong: unenrol and enrol instead.
        if obj is not None:
            fields += ["campaign", "contact"]
        return fields

    @admin.display(description="Next step / why waiting")
    def next_step(self, obj: Enrollment) -> str:
        if obj.hold_reason:
            return obj.hold_reason
        if obj.state == E.ACTIVE and obj.next_action_at:
            return f"step {obj.current_step} due {_local(obj.next_action_at)}"
        if obj.state == E.WAITING:
            return f"waiting for step {obj.current_step} to be sent"
        return ""

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            counters_after_enrol(campaign_id=obj.campaign_id, contact_ids=[obj.contact_id])

    @admin.action(description="Pause selected enrollments…", permissions=["change"])
    def pause(self, request, queryset):
        live = queryset.filter(state__in=[E.ACTIVE, E.WAITING])
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="pause",
                title="Pause enrollments",
                will_change=live.count(),
            )
        ids = []
        for enrollment in live:
            enrollment_pause(enrollment=enrollment, actor=request.user)
            ids.append(enrollment.id)
        changed = Enrollment.objects.filter(id__in=ids, state=E.PAUSED).count()
        self.message_user(request, action_result(changed, queryset.count(), "enrollment", "paused"))
        return None

    @admin.action(description="Resume selected enrollments…", permissions=["change"])
    def resume(self, request, queryset):
        paused = queryset.filter(state=E.PAUSED)
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="resume",
                title="Resume enrollments",
                will_change=paused.count(),
            )
        ids = []
        for enrollment in paused:
            enrollment_resume(enrollment=enrollment, actor=request.user)
            ids.append(enrollment.id)
        changed = Enrollment.objects.filter(id__in=ids).exclude(state=E.PAUSED).count()
        self.message_user(
            request, action_result(changed, queryset.count(), "enrollment", "resumed")
        )
        return None

    @admin.action(description="Unenrol selected (stop their sequences)…", permissions=["change"])
    def unenrol(self, request, queryset):
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="unenrol",
                title="Unenrol contacts",
                will_change=queryset.filter(state__in=LIVE).count(),
                note="Their unsent messages are cancelled. Sent history is kept.",
            )
        changed = enrollments_unenrol(enrollments=queryset, actor=request.user)
        self.message_user(
            request, f"{changed} {ngettext('enrollment', 'enrollments', changed)} stopped."
        )
        return None

    @admin.action(description="Opt out the selected enrollments' contacts…", permissions=["change"])
    def opt_out_contacts(self, request, queryset):
        contacts = Contact.objects.filter(enrollments__in=queryset).distinct()
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="opt_out_contacts",
                title="Opt contacts out everywhere",
                will_change=contacts.filter(opted_out_at=None).count(),
                note="Counted in contacts. Every campaign of theirs stops; only a human "
                "can reverse an opt-out.",
            )
        changed = contacts_opt_out(contacts=contacts, actor=request.user)
        self.message_user(
            request, f"{changed} {ngettext('contact', 'contacts', changed)} opted out."
        )
        return None


# Each part registers its own admins when imported: the Contact and Message admins with
# campaigns' additions, then the triggers.
from campaigns import admin_overrides as _admin_overrides  # noqa: E402, F401
from campaigns.triggers import admin as _triggers_admin  # noqa: E402, F401
