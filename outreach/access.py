"""Row scoping for outreach, built on contacts/access.py (roles: core/access.py)."""

from django.db.models import Q, QuerySet

from contacts.access import contacts_visible_to
from core.access import visible_owner_ids
from outreach.models import Conversation, ManualTask, MediaAsset, Message, SenderAccount


def conversations_visible_to(user) -> QuerySet[Conversation]:
    """Conversations with a contact the user sees, plus those assigned to them (or their team)."""
    ids = visible_owner_ids(user)
    qs = Conversation.objects.all()
    if ids is None:
        return qs
    return qs.filter(Q(identity__contact__in=contacts_visible_to(user)) | Q(assigned_to_id__in=ids))


def messages_visible_to(user) -> QuerySet[Message]:
    ids = visible_owner_ids(user)
    qs = Message.objects.all()
    if ids is None:
        return qs
    return qs.filter(conversation__in=conversations_visible_to(user))


def manual_tasks_visible_to(user) -> QuerySet[ManualTask]:
    """Tasks for messages the user sees, plus those assigned to them (or their team)."""
    ids = visible_owner_ids(user)
    qs = ManualTask.objects.all()
    if ids is None:
        return qs
    return qs.filter(Q(message__in=messages_visible_to(user)) | Q(assignee_id__in=ids))


def senders_visible_to(user) -> QuerySet[SenderAccount]:
    """Shared accounts (no owner) and those owned by the user or their team."""
    ids = visible_owner_ids(user)
    qs = SenderAccount.objects.all()
    if ids is None:
        return qs
    return qs.filter(Q(owner__isnull=True) | Q(owner_id__in=ids))


def media_assets_visible_to(user) -> QuerySet[MediaAsset]:
    """The media library has no owner: all of it for active staff with the view permission
    for media assets (admins; managers and reps are not given it), none for anyone else."""
    qs = MediaAsset.objects.all()
    if visible_owner_ids(user) == set():  # anonymous or inactive
        return qs.none()
    if not (user.is_staff and user.has_perm("outreach.view_mediaasset")):
        return qs.none()
    return qs
