import io

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from contacts import imports
from contacts.export import export_csv_lines, export_xlsx
from contacts.models import (
    ConsentRecord,
    Contact,
    ContactImport,
    Identity,
    SavedMapping,
    Suppression,
    Tag,
)
from contacts.services import contact_opt_out, suppression_digest, suppressions_matching


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 1
    fields = [
        "channel",
        "value",
        "platform_user_id",
        "consent_at",
        "opted_out_at",
        "opt_out_source",
    ]
    readonly_fields = ["consent_at", "opted_out_at", "opt_out_source"]


class ConsentRecordInline(admin.TabularInline):
    model = ConsentRecord
    extra = 0
    can_delete = False
    fields = ("recorded_at", "kind", "channel", "source", "actor", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "company",
        "title",
        "time_zone",
        "country",
        "owner",
        "identity_count",
        "opted_out_at",
    ]
    list_filter = ["tags", "country", ("opted_out_at", admin.EmptyFieldListFilter), "owner"]
    search_fields = ["first_name", "last_name", "company", "identities__value"]
    autocomplete_fields = ["owner", "tags"]
    readonly_fields = ["opted_out_at", "created_at", "updated_at"]
    list_select_related = ["owner"]
    inlines = [IdentityInline, ConsentRecordInline]
    actions = ["opt_out", "export_csv", "export_xlsx"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_identity_count=Count("identities"))

    @admin.display(description="Identities", ordering="_identity_count")
    def identity_count(self, obj: Contact) -> int:
        return obj._identity_count  # type: ignore[attr-defined]

    @admin.action(description="Opt out of every channel", permissions=["change"])
    def opt_out(self, request, queryset) -> None:
        for contact in queryset:
            contact_opt_out(contact=contact, source="admin", actor=request.user)
        n = queryset.count()
        noun = ngettext("contact", "contacts", n)
        self.message_user(request, f"{n} {noun} opted out of every channel.")

    @admin.action(description="Export selected contacts to CSV", permissions=["view"])
    def export_csv(self, request, queryset) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            export_csv_lines(queryset), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="contacts.csv"'
        return response

    @admin.action(description="Export selected contacts to Excel (XLSX)", permissions=["view"])
    def export_xlsx(self, request, queryset) -> HttpResponse:
        out = io.BytesIO()
        export_xlsx(queryset, out)
        response = HttpResponse(
            out.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="contacts.xlsx"'
        return response


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ["value", "channel", "contact", "platform_user_id", "opted_out_at"]
    list_filter = ["channel", ("opted_out_at", admin.EmptyFieldListFilter)]
    search_fields = ["value", "platform_user_id", "contact__first_name", "contact__last_name"]
    autocomplete_fields = ["contact"]
    list_select_related = ["contact"]
    readonly_fields = [
        "consent_at",
        "consent_source",
        "opted_out_at",
        "opt_out_source",
        "created_at",
    ]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "contact_count"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_contact_count=Count("contacts"))

    @admin.display(description="Contacts", ordering="_contact_count")
    def contact_count(self, obj: Tag) -> int:
        return obj._contact_count  # type: ignore[attr-defined]


class SuppressionForm(forms.ModelForm):
    """Adding an entry by hand: the address is typed, only its digest is saved."""

    address = forms.CharField(
        max_length=255, help_text="Kept only as a peppered hash; the address is not stored."
    )

    class Meta:
        model = Suppression
        fields = ["channel", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            del self.fields["address"]  # an entry's address cannot be read back or changed

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if self.instance._state.adding and data.get("address"):
            self.instance.digest = suppression_digest(data.get("channel", ""), data["address"])
            if Suppression.objects.filter(digest=self.instance.digest).exists():
                self.add_error("address", "This address is already suppressed on this channel.")
        return data


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    form = SuppressionForm
    list_display = ["__str__", "channel", "reason", "created_at"]
    list_filter = ["channel"]
    search_fields = ["reason"]
    search_help_text = "Type an address to see whether it is suppressed, or words of a reason."

    def get_fields(self, request, obj=None):
        # An entry's address cannot be read back: it is typed only to add one.
        return ["channel", "reason"] if obj else ["address", "channel", "reason"]

    def get_readonly_fields(self, request, obj=None):
        return ["channel"] if obj else []

    def get_search_results(self, request, queryset, search_term):
        found, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            # Addresses are stored hashed: hash what was typed, on every channel.
            found |= queryset.filter(pk__in=suppressions_matching(search_term).values("pk"))
        return found, duplicates


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    list_display = ["contact", "kind", "channel", "source", "actor", "recorded_at"]
    list_filter = ["kind", "channel", "source"]
    search_fields = ["contact__first_name", "contact__last_name", "note"]
    list_select_related = ["contact", "actor"]
    autocomplete_fields = ["contact", "identity", "actor"]
    readonly_fields = ["recorded_at"]


@admin.register(ContactImport)
class ContactImportAdmin(admin.ModelAdmin):
    list_display = [
        "__str__", "status", "mode", "records_done", "created", "updated", "unchanged",
        "duplicates", "skipped", "failed", "created_at", "page",
    ]  # fmt: skip
    list_filter = ["status", "mode"]
    search_fields = ["original_name"]
    readonly_fields = [f.name for f in ContactImport._meta.fields]
    actions = ["cancel", "resume", "rollback"]

    def add_view(self, request, form_url="", extra_context=None):
        # Uploading needs the preview and mapping step, which lives on the dashboard page.
        return redirect("contacts:import_upload")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Progress / summary")
    def page(self, obj: ContactImport) -> str:
        return format_html(
            '<a href="{}">open</a>', reverse("contacts:import_detail", args=[obj.pk])
        )

    # Whoever may import cancels, resumes and rolls back their own imports (as on the
    # import's page); the rows offered are theirs (ScopedAdminMixin).
    @admin.action(description="Cancel (stops after the current batch)", permissions=["add"])
    def cancel(self, request, queryset) -> None:
        for imp in queryset:
            imports.contact_import_cancel(contact_import=imp)
        self.message_user(request, "Cancel requested.")

    @admin.action(description="Resume from the last committed batch", permissions=["add"])
    def resume(self, request, queryset) -> None:
        for imp in queryset:
            try:
                imports.contact_import_resume(contact_import=imp)
                self.message_user(request, f"{imp}: resumed.")
            except ValueError as exc:
                self.message_user(request, f"{imp}: {exc}", level="error")

    # One click here, so it keeps contacts with conversations, replies, enrollments or
    # deals; the import's page offers to delete those too, after a confirmation.
    @admin.action(
        description="Roll back: delete the contacts these imports created "
        "(keeps any with activity)",
        permissions=["add"],
    )
    def rollback(self, request, queryset) -> None:
        for imp in queryset:
            try:
                n = imports.contact_import_rollback(contact_import=imp, keep_active=True)
                kept = Contact.objects.filter(created_by_import=imp.pk).count()
                self.message_user(
                    request,
                    f"{imp}: {n} {ngettext('contact', 'contacts', n)} deleted, "
                    f"{kept} with activity kept.",
                )
            except ValueError as exc:
                self.message_user(request, f"{imp}: {exc}", level="error")


@admin.register(SavedMapping)
class SavedMappingAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


# The User admin revokes sessions and tokens on deactivation: registered from its own module.
from contacts import admin_users  # noqa: E402, F401
