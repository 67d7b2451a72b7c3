from typing import cast

from django import forms
from django.contrib.auth import get_user_model

from contacts.channels import channel_choices
from core.access import owners_assignable_by
from outreach.inbox.models import MessageIntent

STATUS_CHOICES = [
    ("open", "Open"),
    ("no_reply", "No reply yet"),
    ("snoozed", "Snoozed"),
    ("resolved", "Resolved"),
    ("all", "All"),
]


class InboxFilterForm(forms.Form):
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    unread = forms.BooleanField(required=False)
    mine = forms.BooleanField(required=False)
    unassigned = forms.BooleanField(required=False)
    channel = forms.ChoiceField(
        choices=lambda: [("", "Any channel"), *channel_choices()], required=False
    )
    intent = forms.ChoiceField(
        choices=[("", "Any intent"), *MessageIntent.Label.choices], required=False
    )


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Reply",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a reply…"}),
        max_length=4000,
    )

    # The channel switcher (outreach/inbox/targets.py); without it, the page's conversation.
    to = forms.ChoiceField(label="Send on", required=False, choices=[])

    def __init__(self, *args, targets=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.targets = {t.key: t for t in targets}
        cast(forms.ChoiceField, self.fields["to"]).choices = [(t.key, t.label) for t in targets]

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError("A reply needs some text.")
        return body


class NoteForm(forms.Form):
    body = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)


class AssignForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),  # set per acting user below
        required=False,
        empty_label="Nobody",
        label="Assigned to",
    )

    def __init__(self, *args, by, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Assigning gives access: only people the acting user may name (a rep themselves, a
        # manager their teams' members, an admin anyone); others are "Select a valid choice".
        users = owners_assignable_by(by).order_by("username")
        cast(forms.ModelChoiceField, self.fields["user"]).queryset = users


class SnoozeForm(forms.Form):
    hours = forms.TypedChoiceField(
        coerce=int,
        choices=[
            (1, "1 hour"),
            (4, "4 hours"),
            (24, "Tomorrow"),
            (168, "Next week"),
            (0, "Wake now"),
        ],
        label="Snooze",
    )


class IntentForm(forms.Form):
    label = forms.ChoiceField(choices=MessageIntent.Label.choices)
