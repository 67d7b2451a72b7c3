from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

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

    # "Send later": a date and time in the rep's time zone (filled in by the browser from
    # Intl; the server's TIME_ZONE without script). Empty: send now.
    send_at = forms.DateTimeField(
        label="Send later (optional)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    send_tz = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, targets=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.targets = {t.key: t for t in targets}
        cast(forms.ChoiceField, self.fields["to"]).choices = [(t.key, t.label) for t in targets]

    def clean(self) -> dict:
        data = super().clean() or {}
        when = data.get("send_at")
        if when is None:
            return data
        name = data.get("send_tz") or settings.TIME_ZONE
        try:
            tz = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(f"Unknown time zone {name!r}.") from None
        # The browser's wall-clock time in the rep's zone, not the server's.
        data["send_at"] = when.replace(tzinfo=None).replace(tzinfo=tz)
        if data["send_at"] <= timezone.now():
            self.add_error("send_at", "Pick a time in the future, or leave it empty to send now.")
        return data

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
