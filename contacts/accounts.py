"""Account services: what deactivating a user takes away.

Deactivation (the User admin's save, contacts/admin_users.py, or ``user_deactivate``) ends
every session of the user and deletes their API tokens at once, rather than relying on the
checks each request makes (ModelBackend.get_user and HashedTokenAuthentication refuse
inactive users too). Staff status only opens /admin/; removing it revokes nothing else.
"""

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from core.api_tokens import ApiToken


def user_sessions_end(*, user) -> int:
    """Deletes the user's database sessions; returns how many. Django keeps no index of
    sessions per user, so each live session is decoded (deactivations are rare)."""
    ids = [
        s.pk
        for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(s.get_decoded().get("_auth_user_id")) == str(user.pk)
    ]
    Session.objects.filter(pk__in=ids).delete()
    return len(ids)


def user_access_revoke(*, user) -> None:
    """Ends the user's sessions and deletes their API tokens."""
    with transaction.atomic():
        ApiToken.objects.filter(user=user).delete()
        user_sessions_end(user=user)


def user_deactivate(*, user) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])
    user_access_revoke(user=user)
