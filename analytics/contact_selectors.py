"""What the contacts pages read: the searchable list and one contact's cross-channel timeline.

In analytics because the timeline reads rows of every app below it (outreach's messages,
pipelines' deal history, campaigns' enrolments); see docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from campaigns.access import campaigns_visible_to
from campaigns.models import Campaign, Enrollment
from contacts.access import contacts_visible_to
from contacts.models import ConsentRecord, Contact, ContactImport, Identity
from core.audit import AuditEntry
from outreach.access import senders_visible_to
from outreach.models import Message
from pipelines.models import DealStageChange

TIMELINE_LIMIT = 200  # newest messages shown; older ones stay in the inbox


@dataclass
class ContactQuery:
    q: str = ""
    tag: int | None = None
    owner: int | None = None
    channel: str = ""
    state: str = ""  # "consented", "opted_out" or "" (any)
    campaign: int | None = None


def contact_list(user, query: ContactQuery) -> QuerySet[Contact]:
    """The user's visible contacts matching every word of the search in the name, company or
    any identity (address, number, handle, platform user id), then the filters."""
    qs = contacts_visible_to(user)
    for word in query.q.split():
        word = word.lstrip("@") or word
        identity = Identity.objects.filter(contact=OuterRef("pk")).filter(
            Q(value__icontains=word) | Q(platform_user_id__icontains=word)
        )
        qs = qs.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(company__icontains=word)
            | Exists(identity)
        )
    if query.tag:
        qs = qs.filter(tags__id=query.tag)
    if query.owner:
        qs = qs.filter(owner_id=query.owner)
    if query.channel:
        on_channel = Identity.objects.filter(contact=OuterRef("pk"), channel=query.channel)
        qs = qs.filter(Exists(on_channel))
    opted_out = Q(opted_out_at__isnull=False) | Exists(
        Identity.objects.filter(contact=OuterRef("pk"), opted_out_at__isnull=False)
    )
    if query.state == "opted_out":
        qs = qs.filter(opted_out)
    elif query.state == "consented":
        qs = qs.filter(
            Exists(Identity.objects.filter(contact=OuterRef("pk"), consent_at__isnull=False))
        ).exclude(opted_out)
    if query.campaign:
        qs = qs.filter(
            Exists(Enrollment.objects.filter(contact=OuterRef("pk"), campaign_id=query.campaign))
        )
    return qs.select_related("owner").prefetch_related("identities", "tags").order_by("-id")


def enrollable_campaigns(user) -> QuerySet[Campaign]:
    """Campaigns the user sees that take new contacts (draft or running)."""
    return (
        campaigns_visible_to(user)
        .filter(status__in=[Campaign.Status.DRAFT, Campaign.Status.RUNNING])
        .only("id", "name", "status")
        .order_by("name")
    )


def visible_contact(user, pk: int) -> Contact | None:
    return (
        contacts_visible_to(user)
        .select_related("owner")
        .prefetch_related("identities", "tags")
        .filter(pk=pk)
        .first()
    )


@dataclass
class Event:
    at: datetime
    kind: str  # message, held, deal, enrolment, import, consent, audit
    title: str
    detail: str = ""
    channel: str = ""
    url: str = ""
    extra: dict = field(default_factory=dict)


def _snippet(text: str, size: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


def contact_timeline(user, contact: Contact) -> list[Event]:
    """One list across every channel, newest first; a fixed number of queries whatever the
    contact's history (one per kind of row).

    Messages are those of conversations with senders the user sees (outreach/access.py
    senders_visible_to): another team writing to the same person stays in its own inbox."""
    events: list[Event] = []
    messages = (
        Message.objects.filter(
            conversation__identity__contact=contact,
            conversation__sender__in=senders_visible_to(user),
        )
        .only(
            "id",
            "conversation_id",
            "channel",
            "direction",
            "status",
            "subject",
            "body",
            "hold_reason",
            "not_before",
            "sent_at",
            "created_at",
            "deleted_at",
        )
        .order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    )
    for m in messages:
        inbound = m.direction == Message.Direction.INBOUND
        waiting = m.status in (Message.Status.QUEUED, Message.Status.PAUSED)
        text = "(unsent by the contact)" if m.deleted_at else (m.subject or m.body)
        events.append(
            Event(
                at=m.sent_at or m.created_at,
                kind="message",
                title="Received" if inbound else f"Outbound · {m.get_status_display()}",
                detail=_snippet(text),
                channel=m.get_channel_display(),
                url=f"/inbox/{m.conversation_id}/",
                extra={"direction": m.direction, "held": m.hold_reason if waiting else ""},
            )
        )
    for change in DealStageChange.objects.filter(deal__contact=contact).select_related(
        "deal__pipeline", "from_stage", "to_stage", "changed_by"
    ):
        start = change.from_stage.name if change.from_stage else "new deal"
        who = f" by {change.changed_by}" if change.changed_by else ""
        events.append(
            Event(
                at=change.at,
                kind="deal",
                title=f"Deal in {change.deal.pipeline.name}: {start} → {change.to_stage.name}",
                detail=(change.reason + who).strip(),
            )
        )
    for enrolment in Enrollment.objects.filter(contact=contact).select_related("campaign"):
        events.append(
            Event(
                at=enrolment.created_at,
                kind="enrolment",
                title=f"Enrolled in {enrolment.campaign.name}",
                detail=f"now {enrolment.get_state_display().lower()}",
            )
        )
    identities = list(contact.identities.all())
    import_ids = {contact.created_by_import, contact.last_import} | {
        i.created_by_import for i in identities
    }
    for imp in ContactImport.objects.filter(id__in=[i for i in import_ids if i]):
        verb = "Created by" if imp.id == contact.created_by_import else "Updated by"
        events.append(
            Event(
                at=imp.finished_at or imp.created_at,
                kind="import",
                title=f"{verb} import {imp.original_name}",
            )
        )
    for record in ConsentRecord.objects.filter(contact=contact):
        scope = record.get_channel_display() if record.channel else "all channels"
        events.append(
            Event(
                at=record.recorded_at,
                kind="consent",
                title=f"{record.get_kind_display()} ({scope})",
                detail=record.source,
            )
        )
    about = Q(target_type="contact", target_id=contact.pk) | Q(
        target_type="identity", target_id__in=[i.pk for i in identities]
    )
    for entry in AuditEntry.objects.filter(about).select_related("actor"):
        events.append(
            Event(
                at=entry.at,
                kind="audit",
                title=f"{entry.actor or 'system'}: {entry.action}",
                detail=entry.detail,
            )
        )
    events.sort(key=lambda e: e.at, reverse=True)
    return events
