from typing import cast

from django import forms
from django.contrib.auth import get_user_model

from contacts import validators
from contacts.models import ContactImport, SavedMapping
from contacts.seams import contacts_events
from core.access import ADMIN, owners_assignable_by, role_of


class ImportUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV or tab-separated text, any common encoding.")
    mode = forms.ChoiceField(choices=ContactImport.Mode.choices, initial="update")
    default_country = forms.CharField(
        max_length=2,
        required=False,
        help_text="ISO code (DE, US …) for phone numbers written without +country code.",
    )
    tags = forms.CharField(required=False, help_text="Comma-separated; given to every row.")
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),  # set per user below
        required=False,
        help_text="Who owns the contacts it creates (you, when left empty).",
    )
    then = forms.ChoiceField(required=False, label="Then", choices=[])

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        # A rep may name only themselves, a manager their teams' members, an admin anyone:
        # a posted id outside this list is "Select a valid choice", like a missing one.
        owners = owners_assignable_by(user).order_by("username")
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = owners
        self.fields["owner"].initial = user.pk
        # Apps above contacts (campaigns) offer follow-ups such as "enrol into campaign X",
        # each listing only what this user may see; ChoiceField refuses any other value.
        choices = [("", "Nothing else"), *contacts_events().import_choices(user)]
        cast(forms.ChoiceField, self.fields["then"]).choices = choices
        if len(choices) == 1:
            del self.fields["then"]

    def clean_owner(self):
        # Contacts without an owner are seen by admins only: anyone else would lose sight
        # of what they just imported.
        owner = self.cleaned_data["owner"]
        if owner is None and role_of(self.user) != ADMIN:
            return self.user
        return owner

    def clean_default_country(self) -> str:
        return validators.default_country(self.cleaned_data["default_country"].strip())

    def clean_tags(self) -> list[str]:
        return [t.strip()[:100] for t in self.cleaned_data["tags"].split(",") if t.strip()]


class SavedMappingChoiceForm(forms.Form):
    saved = forms.ModelChoiceField(
        queryset=SavedMapping.objects.all(), required=False, label="Use a saved mapping"
    )
