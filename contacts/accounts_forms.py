"""Forms of the account pages: invitations and API tokens (the login form: config/login.py)."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from contacts.invitations import (
    Invitation,
    invitation_check,
    roles_invitable_by,
    teams_invitable_by,
)


class InvitationForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["email", "role", "team"]

    def __init__(self, *args, inviter, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.inviter = inviter
        allowed = roles_invitable_by(inviter)
        role = self.fields["role"]
        role.choices = [c for c in Invitation.Role.choices if c[0] in allowed]  # type: ignore[attr-defined]
        team = self.fields["team"]
        team.queryset = teams_invitable_by(inviter)  # type: ignore[attr-defined]
        team.required = "admin" not in allowed
        team.empty_label = "(no team)" if not team.required else None  # type: ignore[attr-defined]

    def clean_email(self) -> str:
        from django.contrib.auth import get_user_model

        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email, is_active=True).exists():
            raise ValidationError("Someone with this address already has an account.")
        return email

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if "role" in data and "team" in data:
            invitation_check(inviter=self.inviter, role=data["role"], team=data["team"])
        return data


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “CRM sync”.")
    days = forms.IntegerField(
        label="Valid for (days)",
        min_value=1,
        max_value=3650,
        required=False,
        help_text="Leave empty for a token that never expires.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["days"].initial = settings.API_TOKEN_DEFAULT_DAYS or None
