"""GDPR: export everything held on one contact, and erase it while keeping the counts.

Lives in campaigns because it reads every app (contacts, outreach, campaigns).
"""

from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.forms.models import model_to_dict

from campaigns.models import Deal, Enrollment
from contacts.models import ConsentRecord, Contact, ContactImportError, Identity, Suppression
from contacts.services import erased_suppressions_add
from outreach.models import Conversation, InboundEvent, Message

ERASED = "erased"


def _row(obj, exclude: tuple[str, ...] = ()) -> dict:
    data = model_to_dict(obj, exclude=list(exclude))
    for field in ("created_at", "updated_at", "recorded_at", "sent_at"):
        if hasattr(obj, field):
            data[field] = getattr(obj, field)
    return data


def contact_export(*, contact: Contact) -> dict:
    """Everything held on one contact, as plain JSON-ready data."""
    conversations = Conversation.objects.filter(identity__contact=contact).select_related("sender")
    messages = Message.objects.filter(conversation__identity__contact=contact).order_by("id")
    return {
        "contact": _row(contact, exclude=("tags",))
        | {"tags": list(contact.tags.values_list("name", flat=True))},
        "identities": [_row(i) for i in Identity.objects.filter(contact=contact)],
        "consent_records": [
            {
                "kind": r.kind,
                "channel": r.channel,
                "source": r.source,
                "note": r.note,
                "recorded_at": r.recorded_at,
            }
            for r in ConsentRecord.objects.filter(contact=contact).order_by("recorded_at")
        ],
        "conversations": [
            {"id": c.id, "channel": c.sender.channel, "sender": c.sender.name}
            for c in conversations
        ],
        "messages": [
            {
                "id": m.id,
                "conversation_id": m.conversation_id,
                "channel": m.channel,
                "direction": m.direction,
                "status": m.status,
                "subject": m.subject,
                "body": m.body,
                "sent_at": m.sent_at,
                "created_at": m.created_at,
            }
            for m in messages
        ],
        "enrollments": [
            {"campaign": e.campaign.name, "state": e.state, "created_at": e.created_at}
            for e in Enrollment.objects.filter(contact=contact).select_related("campaign")
        ],
        "deals": [
            {"pipeline": d.pipeline.name, "stage": d.stage.name, "value": d.value}
            for d in Deal.objects.filter(contact=contact).select_related("pipeline", "stage")
        ],
    }


def _personal_values(contact: Contact) -> list[str]:
    values = [contact.first_name, contact.last_name, contact.company]
    for identity in Identity.objects.filter(contact=contact):
        values += [identity.value, identity.platform_user_id]
    return [v for v in values if v and len(v) >= 3]


@transaction.atomic
def contact_erase(*, contact: Contact) -> Contact:
    """Remove personal data but keep the rows that counts are made of.

    Enrollments, messages, deals and consent rows stay (campaign stats do not change);
    names, addresses, handles, message bodies, notes and raw payloads are blanked.
    Suppression entries for the contact's addresses are removed as well (they are
    personal data too); a peppered hash of each address stays instead, which the send path
    and imports check, so the erased person is never contacted again.
    """
    values = _personal_values(contact)
    identities = Identity.objects.filter(contact=contact).exclude(value__startswith=ERASED)
    erased_suppressions_add(identities=identities)
    Suppression.objects.filter(value__in=identities.values("value")).delete()
    for identity in identities:
        # Identity values are unique per channel; the id keeps the placeholder unique.
        Identity.objects.filter(id=identity.id).update(
            value=f"{ERASED}-{identity.id}",
            platform_user_id="",
            consent_source="",
            opt_out_source="",
        )
    Message.objects.filter(conversation__identity__contact=contact).update(
        subject="", body="", body_html="", attachments=[], error_reason="", hold_reason=""
    )
    Conversation.objects.filter(identity__contact=contact).update(comment_id="")
    ConsentRecord.objects.filter(contact=contact).update(note="")
    if values:
        text_match = Q()
        for value in values:
            text_match |= Q(as_text__icontains=value)
        InboundEvent.objects.annotate(as_text=Cast("payload", TextField())).filter(
            text_match
        ).update(payload={ERASED: True})
        ContactImportError.objects.annotate(as_text=Cast("row", TextField())).filter(
            text_match
        ).delete()
    contact.tags.clear()
    Contact.objects.filter(id=contact.id).update(
        first_name="",
        last_name="",
        company="",
        title="",
        country="",
        locale="",
        time_zone="",
        custom_fields={ERASED: True},
    )
    contact.refresh_from_db()
    return contact
