"""Two small protections that span the apps: a Content-Security-Policy header on every
response, and a lock on logins after repeated failures (counted in the cache)."""

import hashlib

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

# Our scripts and styles are self-hosted. Inline style attributes stay allowed (Bootstrap
# markup, the admin, htmx's indicator style); inline scripts and handlers do not.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Swagger UI (drf-spectacular) loads from its CDN and starts with an inline script.
CSP_EXEMPT_PREFIXES = ("/api/v1/docs/",)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(CSP_EXEMPT_PREFIXES):
            response.headers.setdefault("Content-Security-Policy", CSP)
        return response


def _client_ip(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "") if request is not None else ""


def _key(username: str, request) -> str:
    raw = f"{(username or '').casefold()}|{_client_ip(request)}"
    return "login-fail:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def login_locked(username: str, request) -> bool:
    return cache.get(_key(username, request), 0) >= settings.LOGIN_FAILURE_LIMIT


class ThrottledModelBackend(ModelBackend):
    """Django's backend, refusing any password for a username+IP that failed
    LOGIN_FAILURE_LIMIT times within LOGIN_LOCKOUT_MINUTES (the admin login included)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        name = username or kwargs.get(self._username_field(), "")
        if login_locked(name, request):
            raise PermissionDenied("Too many failed logins; try again later.")
        return super().authenticate(request, username=username, password=password, **kwargs)

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


@receiver(user_login_failed)
def _count_failure(sender, credentials, request=None, **kwargs) -> None:
    key = _key(credentials.get("username", ""), request)
    timeout = settings.LOGIN_LOCKOUT_MINUTES * 60
    if cache.add(key, 1, timeout):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout)


@receiver(user_logged_in)
def _reset_failures(sender, request, user, **kwargs) -> None:
    cache.delete(_key(user.get_username(), request))
