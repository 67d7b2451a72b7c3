"""The login forms of the app and of the admin. They live in config because the lock they
report is config's (config/security.py); the other account pages are in
contacts/accounts_views.py."""

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.urls import reverse

from config.security import login_locked


class LockReportingMixin:
    """A username+IP locked by ThrottledModelBackend says so plainly (the backend refuses it
    with PermissionDenied, which Django reports as a wrong password)."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""  # type: ignore[attr-defined]
        if username and login_locked(username, self.request):  # type: ignore[attr-defined]
            raise ValidationError(
                f"Too many failed logins: this login is locked for up to "
                f"{settings.LOGIN_LOCKOUT_MINUTES} minutes. Try again later, or reset your "
                "password.",
                code="locked",
            )
        return super().clean()  # type: ignore[misc]


class LoginForm(LockReportingMixin, AuthenticationForm):
    """The app's login (/accounts/login/): every active user."""


class AdminLoginForm(LockReportingMixin, AdminAuthenticationForm):
    """The admin's login: staff only; an active user without staff status is pointed to
    the app's login instead of being told the password is wrong."""

    def confirm_login_allowed(self, user) -> None:
        if user.is_active and not user.is_staff:
            raise ValidationError(
                "This account has no access to the admin site. Log in to the app at %(url)s.",
                code="not_staff",
                params={"url": reverse("login")},
            )
        super().confirm_login_allowed(user)
