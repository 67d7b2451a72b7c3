"""Row scoping for sending domains (roles: core/access.py): a domain is seen by whoever
sees one of its email senders, and by its team; changed by admins and by managers who see
it (a rep reads, as for sender accounts)."""

from django.db.models import Q, QuerySet

from core.access import ADMIN, MANAGER, role_of, teams_visible_to, visible_owner_ids
from deliverability.models import SendingDomain, WhatsAppTemplate
from deliverability.services import sender_domain
from outreach.access import senders_visible_to


def domains_visible_to(user) -> QuerySet[SendingDomain]:
    qs = SendingDomain.objects.all()
    ids = visible_owner_ids(user)
    if ids is None:
        return qs
    if not ids:
        return qs.none()
    names = {sender_domain(s) for s in senders_visible_to(user).filter(channel="email")} - {""}
    return qs.filter(Q(domain__in=names) | Q(team__in=teams_visible_to(user)))


def domains_changeable_by(user) -> QuerySet[SendingDomain]:
    role = role_of(user)
    if role == ADMIN:
        return SendingDomain.objects.all()
    if role == MANAGER:
        return domains_visible_to(user)
    return SendingDomain.objects.none()


def whatsapp_templates_visible_to(user) -> QuerySet[WhatsAppTemplate]:
    """The synced templates of the WhatsApp accounts whose sender the user may use (shared
    ones and those of their team): what the sequence builder offers and accepts."""
    if visible_owner_ids(user) == set():  # anonymous or inactive
        return WhatsAppTemplate.objects.none()
    senders = senders_visible_to(user).filter(channel="whatsapp")
    return WhatsAppTemplate.objects.filter(account__sender__in=senders).select_related(
        "account__sender"
    )
