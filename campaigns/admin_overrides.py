"""The Contact and Message admins with what campaigns adds to them: "Enrol into campaign" on
the contact list, the template version on each message. They live here, the lowest app that
can import both the admins they extend (contacts/admin.py, outreach/admin.py) and the
campaigns they add; they replace those apps' registrations at start-up."""

from typing import cast

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.utils.translation import ngettext

from campaigns.access import (
    campaigns_visible_to,
)
from campaigns.bulk import contacts_opt_out
from campaigns.models import (
    Campaign,
)
from campaigns.services import (
    enrollments_create,
)
from contacts.admin import ContactAdmin
from contacts.models import Contact
from core.admin_confirm import action_confirmation, action_confirmed
from core.audit import audit_record
from outreach.admin import MessageAdmin
from outreach.models import Message

# --- "Enrol into campaign" on the contact list, with a confirmation page ---------------------


class EnrolForm(forms.Form):
    """The campaigns the user may see: a posted id of any other is refused as "Select a
    valid choice". Finished ones are offered too: enrolling more people reopens them
    (campaigns/services.py enrollments_create)."""

    campaign = forms.ModelChoiceField(queryset=Campaign.objects.none())

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["campaign"])
        field.queryset = campaigns_visible_to(user)


class ContactWithCampaignsAdmin(ContactAdmin):
    actions = [*ContactAdmin.actions, "enrol"]

    def has_enrol_permission(self, request) -> bool:
        return request.user.has_perm("campaigns.add_enrollment")

    @admin.action(description="Opt out selected contacts (every channel)…", permissions=["change"])
    def opt_out(self, request, queryset):
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="opt_out",
                title="Opt contacts out everywhere",
                will_change=queryset.filter(opted_out_at=None).count(),
                note="Every campaign of theirs stops; only a human can reverse an opt-out.",
            )
        changed = contacts_opt_out(contacts=queryset, actor=request.user)
        self.message_user(
            request, f"{changed} {ngettext('contact', 'contacts', changed)} opted out."
        )
        return None

    @admin.action(description="Enrol selected contacts into a campaign…", permissions=["enrol"])
    def enrol(self, request, queryset):
        if "confirm" in request.POST:
            form = EnrolForm(request.POST, user=request.user)
            if form.is_valid():
                campaign = form.cleaned_data["campaign"]
                added = enrollments_create(campaign=campaign, contacts=queryset)
                audit_record(
                    actor=request.user,
                    action="campaign.enrol",
                    target=campaign,
                    detail=f"{added} contact(s)",
                )
                skipped = queryset.count() - added
                self.message_user(
                    request,
                    f"{added} {ngettext('contact', 'contacts', added)} enrolled into “{campaign}”"
                    + (f"; {skipped} already enrolled." if skipped else "."),
                )
                return None
        else:
            form = EnrolForm(user=request.user)
        return TemplateResponse(
            request,
            "admin/campaigns/enrol_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "title": "Enrol contacts into a campaign",
                "form": form,
                "queryset": queryset,
                "count": queryset.count(),
                "preview": queryset[:10],
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )


admin.site.unregister(Contact)
admin.site.register(Contact, ContactWithCampaignsAdmin)


class MessageWithTemplateAdmin(MessageAdmin):
    """outreach's message admin, plus the template version a campaign message was rendered
    from (outreach knows nothing about campaigns)."""

    list_display = [
        *MessageAdmin.list_display[:3],
        "template_version",
        *MessageAdmin.list_display[3:],
    ]
    list_select_related = [
        *MessageAdmin.list_select_related,
        "step_send__template_version__template",
    ]
    readonly_fields = [*MessageAdmin.readonly_fields, "template_version"]
    fields = (*MessageAdmin.fields[:4], "template_version", *MessageAdmin.fields[4:])

    @admin.display(description="Template")
    def template_version(self, obj: Message) -> str:
        send = getattr(obj, "step_send", None)
        if send is None or send.template_version is None:
            return "-"
        return str(send.template_version)  # "Intro v3"


admin.site.unregister(Message)
admin.site.register(Message, MessageWithTemplateAdmin)
