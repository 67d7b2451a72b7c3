"""Forms of the dashboards and the campaign builder: they validate input, nothing else."""

from typing import cast

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from campaigns.access import sequences_visible_to
from campaigns.models import Campaign
from contacts.access import imports_visible_to
from contacts.channels import channel_choices
from contacts.models import ContactImport, Tag
from core.access import visible_owner_ids
from outreach.access import senders_visible_to
from outreach.limits import effective_cap, local_day, remaining_today
from outreach.models import SenderAccount


class OverviewFilterForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    status = forms.ChoiceField(choices=[("", "any"), *Campaign.Status.choices], required=False)
    channel = forms.ChoiceField(choices=lambda: [("", "any"), *channel_choices()], required=False)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only the owners whose campaigns the user may see (deactivated ones too: their
        # campaigns stay on the overview).
        ids = visible_owner_ids(user)
        users = get_user_model().objects.all()
        owner = cast(forms.ModelChoiceField, self.fields["owner"])
        owner.queryset = users if ids is None else users.filter(id__in=ids)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_class = "row row-cols-lg-auto g-2 align-items-end d-print-none"
        self.helper.add_input(Submit("", "Filter", css_class="btn-sm"))


class _Crispy:
    submit_label = "Next"

    def _helper(self) -> FormHelper:
        helper = FormHelper()
        helper.add_input(Submit("submit", self.submit_label))
        return helper


def sender_state(sender: SenderAccount) -> str:
    """A sender as the pool picker lists it: where it stands today, so the user sees which
    accounts can carry the campaign before choosing them."""
    name = str(sender)  # "Anna (Email)"
    if sender.paused:
        return f"{name}: paused{f' ({sender.paused_reason})' if sender.paused_reason else ''}"
    now = timezone.now()
    cap = effective_cap(sender, local_day(sender, now))
    return f"{name}: {remaining_today(sender, now)} of {cap} left today"


class CampaignSetupForm(_Crispy, forms.ModelForm):
    """Step 1 of the builder: a name, a sequence and the accounts that send (only those the
    user may see: another team's sequence or account is "Select a valid choice", as a
    missing one)."""

    submit_label = "Next: choose contacts"

    class Meta:
        model = Campaign
        fields = ["name", "sequence", "senders"]
        widgets = {"senders": forms.CheckboxSelectMultiple}

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        sequence = cast(forms.ModelChoiceField, self.fields["sequence"])
        sequence.queryset = sequences_visible_to(user).order_by("name")
        sender_field = cast(forms.ModelMultipleChoiceField, self.fields["senders"])
        sender_field.queryset = senders_visible_to(user).order_by("channel", "name")
        sender_field.label_from_instance = sender_state  # type: ignore[method-assign,assignment]
        self.fields["senders"].required = True
        self.helper = self._helper()


class AudienceForm(_Crispy, forms.Form):
    """Step 2: contacts with any of these tags (tags are shared; the contacts they select
    are narrowed to the user's by audience_contacts), and/or the contacts of one import of
    the user's."""

    submit_label = "Enrol and review"
    tags = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Contacts with any of these tags.",
    )
    contact_import = forms.ModelChoiceField(
        queryset=ContactImport.objects.none(),  # the user's imports, set below
        required=False,
        label="Contacts from an import",
    )
    include_opted_out = forms.BooleanField(
        required=False, disabled=True, help_text="Opted-out contacts are never enrolled."
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        imports = imports_visible_to(user).order_by("-created_at")
        cast(forms.ModelChoiceField, self.fields["contact_import"]).queryset = imports
        self.helper = self._helper()

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if not data.get("tags") and not data.get("contact_import"):
            raise forms.ValidationError("Choose at least one tag or an import.")
        return data


class LaunchForm(_Crispy, forms.Form):
    submit_label = "Launch campaign"
    confirm_warnings = forms.BooleanField(
        required=False, label="I have read the warnings above and want to launch anyway"
    )

    def __init__(self, *args, warnings: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not warnings:  # nothing to confirm
            del self.fields["confirm_warnings"]
        self.helper = self._helper()
