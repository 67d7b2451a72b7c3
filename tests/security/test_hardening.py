"""Deployment checks, the Content-Security-Policy header and the login lock."""

import os
import subprocess
import sys
from pathlib import Path

from django.core.cache import cache

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k7Qx2-pR9vT4wZ8yB1nM6cJ3hF5dL0sA-gE2uI7oK9qW4xV1zN8bY3tH6mP5",
    "ALLOWED_HOSTS": "outreach.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def test_check_deploy_is_clean_with_production_settings():
    # The browser fixture sets DJANGO_ALLOW_ASYNC_UNSAFE in this process; production does not.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(PRODUCTION)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pages_carry_a_content_security_policy(client, django_user_model):
    user = django_user_model.objects.create_superuser("csp", "csp@example.com", "csp-pass-123")
    client.force_login(user)
    for url in ("/", "/inbox/", "/admin/"):
        policy = client.get(url).headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, url
        assert "unsafe-eval" not in policy


def _login(client, password: str, ip: str = "10.0.0.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "lockme", "password": password},
        REMOTE_ADDR=ip,
    )


def test_admin_login_locks_after_repeated_failures(client, django_user_model, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    cache.clear()
    django_user_model.objects.create_superuser("lockme", "l@example.com", "right-pass-123")
    for _ in range(3):
        assert _login(client, "wrong").status_code == 200  # the form again, with an error
    # Locked: even the right password is refused from this address...
    assert _login(client, "right-pass-123").status_code == 200
    assert "_auth_user_id" not in client.session
    # ...while the same user from another address still gets in.
    assert _login(client, "right-pass-123", ip="10.0.0.2").status_code == 302
    # The lock lifts when it expires (the cache key goes away).
    cache.clear()
    client.logout()
    assert _login(client, "right-pass-123").status_code == 302
