"""The app's login form. It lives in config because the lock it reports is config's
(config/security.py); the other account pages are in contacts/accounts_views.py."""

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from config.security import login_locked


class LoginForm(AuthenticationForm):
    """Django's login form; a username+IP locked by ThrottledModelBackend says so plainly
    (the backend refuses it with PermissionDenied, which Django reports as a bad password)."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if username and login_locked(username, self.request):
            raise ValidationError(
                f"Too many failed logins: this login is locked for up to "
                f"{settings.LOGIN_LOCKOUT_MINUTES} minutes. Try again later, or reset your "
                "password.",
                code="locked",
            )
        return super().clean()
