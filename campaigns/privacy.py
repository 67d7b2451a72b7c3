"""GDPR: export everything held on one contact, and erase it while keeping the counts.

Lives in campaigns because it reads every app (contacts, outreach, campaigns). Every table
with a text or JSON column that can hold a person's data is listed in ``contact_erase``
with what erasure does to it; tests/security/test_erase_scan.py scans every column of
every table afterwards.

Two kinds of rows hold a person's data:
- their own rows, reached by foreign keys (identities, conversations, messages, notes,
  deals, enrollments, trigger fires ...): every personal value in them goes, names included;
- rows that only mention them in text (raw inbound events, outgoing webhook payloads, import
  error rows and files, the admin's log, the audit trail, stored API responses): found by
  the person's identifiers (addresses, numbers, handles, platform ids, full name). A first
  name alone is not searched for there: "Anna" in another person's row is not this person,
  and erasing it would destroy someone else's data.
"""

import re
from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast, Coalesce, Now
from django.forms.models import model_to_dict

from campaigns.models import Enrollment
from campaigns.services import enrollments_stop_for_contact
from campaigns.triggers.models import CaptureRequest, TriggerFire
from contacts.import_redact import import_files_redact
from contacts.models import ConsentRecord, Contact, ContactImportError, Identity, Suppression
from contacts.services import erased_suppressions_add, suppression_digest
from core.audit import AuditEntry, audit_record
from core.idempotency import IdempotencyKey
from outreach.inbound_media import inbound_media_discard
from outreach.models import (
    Conversation,
    ConversationNote,
    InboundEvent,
    Message,
    MessageEvent,
    SenderAccount,
)
from pipelines.models import Deal, DealStageChange
from webhooks.models import WebhookAttempt, WebhookDelivery

ERASED = "erased"
MARK = "[erased]"
# What a pending outgoing webhook delivery says once its contact is erased: it is given up
# (WebhookDelivery has no cancelled status; "failed" is the terminal one the loop skips).
DELIVERY_CANCELLED = "cancelled: contact erased"
PHONE_CHANNELS = {"phone", "whatsapp"}
# A number in an import cell written without its country code ("079 123 45 67") is still
# theirs; fewer digits than this are too short to tell (a postcode, an id).
MIN_DIGITS = 8
# Identifiers shorter than this are not searched for in other rows' text: a handle "bob"
# is inside "bobby@…". The person's rows carry a longer one too (platform id, address).
MIN_ID = 5


@dataclass(frozen=True)
class Person:
    """What identifies one contact in text: `ids` anywhere, `names` only in their own rows."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    phone_digits: tuple[str, ...]

    @property
    def lowered(self) -> set[str]:
        return {v.lower() for v in self.ids}

    @property
    def emails(self) -> list[str]:
        return [v.lower() for v in self.ids if "@" in v]

    @property
    def all(self) -> tuple[str, ...]:
        return self.ids + self.names

    def pattern(self, *, names: bool) -> re.Pattern | None:
        return _pattern(self.all if names else self.ids)

    def in_cells(self, cells: list[str]) -> bool:
        """Does one import record hold this person (an address, handle or phone number,
        however the file wrote the number: "+41 79 123 45 67", "0791234567")?"""
        for cell in cells:
            low = cell.strip().lower()
            if low.lstrip("@") in self.lowered or any(e in low for e in self.emails):
                return True  # a handle or id as a whole cell; an address also inside a name
            digits = re.sub(r"\D", "", cell).lstrip("0")
            if len(digits) >= MIN_DIGITS and any(p.endswith(digits) for p in self.phone_digits):
                return True
        return False


def _pattern(values) -> re.Pattern | None:
    """Any of values, any case; the longest first, so "+4179…" is replaced whole."""
    values = sorted(values, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, values)), re.I) if values else None


def person_of(contact: Contact) -> Person:
    ids: list[str] = []
    phones: list[str] = []
    for identity in Identity.objects.filter(contact=contact).exclude(value__startswith=ERASED):
        ids += [identity.value, identity.platform_user_id]
        if identity.channel in PHONE_CHANNELS:
            digits = re.sub(r"\D", "", identity.value)
            ids.append(digits)  # WhatsApp's wa_id is the number without "+"
            phones.append(digits)
    if contact.first_name and contact.last_name:
        ids.append(contact.full_name)
    names = [contact.first_name, contact.last_name, contact.company]
    return Person(
        ids=tuple(dict.fromkeys(v for v in ids if len(v) >= MIN_ID)),
        names=tuple(dict.fromkeys(v for v in names if len(v) >= 3)),
        phone_digits=tuple(phones),
    )


def _mentioning(model: type[models.Model], fields: list[str], values: tuple[str, ...]):
    """Rows of model whose text (JSON as text) contains any of values, any case."""
    match = Q()
    annotations = {}
    for name in fields:
        field = model._meta.get_field(name)
        if isinstance(field, models.JSONField):
            annotations[f"{name}_text"] = Cast(name, TextField())
            name = f"{name}_text"
        for value in values:
            match |= Q(**{f"{name}__icontains": value})
    if not values:
        return model._default_manager.none()
    return model._default_manager.annotate(**annotations).filter(match)


def _scrub(rows, fields: list[str], pattern: re.Pattern | None) -> None:
    """Replace the person's values in these text columns by MARK, keeping the rest."""
    if pattern is None:
        return
    model = rows.model
    for row in rows.only("id", *fields):
        changes = {}
        for name in fields:
            before = getattr(row, name)
            after = pattern.sub(MARK, before)
            if after != before:
                limit = model._meta.get_field(name).max_length
                changes[name] = after[:limit] if limit else after
        if changes:
            model.objects.filter(id=row.id).update(**changes)


@dataclass(frozen=True)
class Owned:
    """The ids of a contact's own rows, by model."""

    identities: list[int]
    conversations: list[int]
    messages: list[int]
    enrollments: list[int]
    deals: list[int]

    @classmethod
    def of(cls, contact: Contact) -> "Owned":
        def ids(qs) -> list[int]:
            return list(qs.values_list("id", flat=True))

        return cls(
            identities=ids(Identity.objects.filter(contact=contact)),
            conversations=ids(Conversation.objects.filter(identity__contact=contact)),
            messages=ids(Message.objects.filter(conversation__identity__contact=contact)),
            enrollments=ids(Enrollment.objects.filter(contact=contact)),
            deals=ids(Deal.objects.filter(contact=contact)),
        )

    def targets(self, contact: Contact) -> list[tuple[type[models.Model], list[int]]]:
        return [
            (Contact, [contact.id]),
            (Identity, self.identities),
            (Conversation, self.conversations),
            (Message, self.messages),
            (Enrollment, self.enrollments),
            (Deal, self.deals),
            (ConsentRecord, list(contact.consent_records.values_list("id", flat=True))),
        ]


def _admin_log(contact: Contact, owned: Owned) -> tuple[Q, Q]:
    """(the log entries about the contact's own rows, about those ids as AuditEntry names)"""
    log, audit = Q(), Q()
    for model, ids in owned.targets(contact):
        if ids:
            content_type = ContentType.objects.get_for_model(model)
            log |= Q(content_type=content_type, object_id__in=[str(i) for i in ids])
            audit |= Q(target_type=model._meta.model_name, target_id__in=ids)
    return log, audit


# --- export ---------------------------------------------------------------------------------


def _row(obj, exclude: tuple[str, ...] = ()) -> dict:
    data = model_to_dict(obj, exclude=list(exclude))
    for field in ("created_at", "updated_at", "recorded_at", "sent_at"):
        if hasattr(obj, field):
            data[field] = getattr(obj, field)
    return data


def contact_export(*, contact: Contact) -> dict:
    """Everything held on one contact, as plain JSON-ready data: their own rows, and every
    row elsewhere that names them (the same tables erasure redacts)."""
    person = person_of(contact)
    owned = Owned.of(contact)
    conversations = Conversation.objects.filter(identity__contact=contact).select_related("sender")
    messages = Message.objects.filter(conversation__identity__contact=contact).order_by("id")
    log, audit = _admin_log(contact, owned)
    identities = list(Identity.objects.filter(contact=contact))
    return {
        "contact": _row(contact, exclude=("tags",))
        | {"tags": list(contact.tags.values_list("name", flat=True))},
        "identities": [_row(i) for i in identities],
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
        "suppressions": list(
            Suppression.objects.filter(
                digest__in=[
                    suppression_digest(channel, i.value)
                    for i in identities
                    for channel in (i.channel, "")
                ]
            ).values("channel", "reason", "created_at")
        ),
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
                "attachments": m.attachments,
                "edits": m.edits,
                "payload": m.payload,
                "reactions": m.reactions,
                "deleted_at": m.deleted_at,
                "reply_to_id": m.reply_to_id,
                "provider_message_id": m.provider_message_id,
                "sent_at": m.sent_at,
                "created_at": m.created_at,
            }
            for m in messages
        ],
        "message_events": list(
            MessageEvent.objects.filter(message_id__in=owned.messages).values(
                "message_id", "status", "detail", "at"
            )
        ),
        "notes": list(
            ConversationNote.objects.filter(conversation_id__in=owned.conversations).values(
                "conversation_id", "body", "created_at"
            )
        ),
        "enrollments": [
            {"campaign": e.campaign.name, "state": e.state, "created_at": e.created_at}
            for e in Enrollment.objects.filter(contact=contact).select_related("campaign")
        ],
        "captured_answers": list(
            CaptureRequest.objects.filter(conversation_id__in=owned.conversations).values(
                "field", "value", "asked_at", "answered_at"
            )
        ),
        "deals": [
            {"pipeline": d.pipeline.name, "stage": d.stage.name, "value": d.value}
            for d in Deal.objects.filter(contact=contact).select_related("pipeline", "stage")
        ],
        "deal_history": [
            {"deal_id": h.deal_id, "to_stage": h.to_stage.name, "reason": h.reason, "at": h.at}
            for h in DealStageChange.objects.filter(deal_id__in=owned.deals).select_related(
                "to_stage"
            )
        ],
        "trigger_fires": [
            {"trigger": f.trigger.name, "outcome": f.outcome, "detail": f.detail, "at": f.at}
            for f in TriggerFire.objects.filter(contact=contact).select_related("trigger")
        ],
        "inbound_events": list(
            _mentioning(InboundEvent, ["payload"], person.ids).values(
                "provider", "provider_event_id", "payload", "received_at"
            )
        ),
        "webhook_deliveries": list(
            _deliveries(contact, person).values("event", "status", "payload", "created_at")
        ),
        "import_rows": list(
            _mentioning(ContactImportError, ["row"], person.ids).values(
                "contact_import_id", "line", "reason", "row"
            )
        ),
        "audit_entries": list(
            AuditEntry.objects.filter(audit).values("at", "action", "target_repr", "detail")
        ),
        "admin_log": list(
            LogEntry.objects.filter(log).values("action_time", "object_repr", "change_message")
        ),
    }


# --- erasure --------------------------------------------------------------------------------


def _deliveries(contact: Contact, person: Person):
    """Outgoing webhook deliveries about this contact: every payload names its contact_id;
    the text search also finds one that only quotes their number or address."""
    mentioning = _mentioning(WebhookDelivery, ["payload"], person.ids).values("id")
    return WebhookDelivery.objects.filter(
        Q(payload__contact_id=contact.id) | Q(id__in=mentioning)
    ).order_by("id")


def _erase_outgoing_webhooks(contact: Contact, person: Person) -> None:
    """Pending deliveries are given up (never sent after the erasure); every delivery about
    the contact, sent or not, keeps its row (the log's counts) without its payload."""
    deliveries = _deliveries(contact, person)
    ids = list(deliveries.values_list("id", flat=True))
    WebhookDelivery.objects.filter(id__in=ids, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error=DELIVERY_CANCELLED
    )
    WebhookDelivery.objects.filter(id__in=ids).update(payload={ERASED: True})
    # A receiver may have echoed the payload back in its answer.
    WebhookAttempt.objects.filter(delivery_id__in=ids).update(response_body="")


def _erase_messages(owned: Owned, person: Person) -> None:
    messages = Message.objects.filter(id__in=owned.messages)
    provider_ids = set(
        messages.exclude(provider_message_id="").values_list("provider_message_id", flat=True)
    )
    inbound_media_discard(messages)  # the copies of what they sent (after the commit)
    # Provider ids identify the person on the platform (Telegram's is "<chat id>:<n>",
    # WhatsApp's wamid encodes the number); late receipts for these messages then match
    # nothing, which is what an erased person's messages should do.
    messages.update(
        subject="",
        body="",
        body_html="",
        attachments=[],
        edits=[],  # the contact's earlier texts
        payload={},  # buttons they pressed, stories they answered
        reactions=[],
        error_reason="",
        hold_reason="",
        provider_message_id="",
        public_reply_to="",
    )
    # The "sent" event records the provider id; bounce and failure events quote errors.
    events = MessageEvent.objects.filter(message_id__in=owned.messages)
    _scrub(events, ["detail"], _pattern([*person.all, *provider_ids]))
    ConversationNote.objects.filter(conversation_id__in=owned.conversations).delete()
    Conversation.objects.filter(id__in=owned.conversations).update(comment_id="")


def _all(person: Person) -> re.Pattern | None:
    return person.pattern(names=True)


def _raw_mentioning(person: Person) -> list[int]:
    """Ids of the events whose raw bytes hold one of the person's identifiers. Read in
    Python, in chunks: bytes have no case-insensitive search that both databases share."""
    needles = [v.lower().encode() for v in person.ids]
    if not needles:
        return []
    rows = InboundEvent.objects.exclude(raw=b"").values_list("id", "raw")
    return [
        event_id
        for event_id, raw in rows.iterator(chunk_size=200)
        if any(needle in bytes(raw).lower() for needle in needles)
    ]


def _erase_inbound_events(person: Person) -> None:
    """The raw events that carry the person (their platform id, number, address, name):
    payload gone; an id that embeds theirs (Meta's "referral:<page>:<PSID>:<time>") replaced.
    An unprocessed one is closed, as there is nothing left to process."""
    events = _mentioning(InboundEvent, ["payload", "provider_event_id", "error"], person.ids)
    ids = list(events.values_list("id", flat=True))
    InboundEvent.objects.filter(id__in=ids).update(
        payload={ERASED: True},
        raw=b"",
        error="",
        processed_at=Coalesce("processed_at", Now()),
    )
    # The bytes as received: an unreadable mail has no payload to match, and a webhook body
    # with several people's events is stored whole with each of them.
    InboundEvent.objects.filter(id__in=_raw_mentioning(person)).update(raw=b"")
    for event in _mentioning(InboundEvent, ["provider_event_id"], person.ids):
        InboundEvent.objects.filter(id=event.id).update(provider_event_id=f"{ERASED}-{event.id}")


def _erase_logs(contact: Contact, owned: Owned, person: Person) -> None:
    """The admin's log and the audit trail: an entry about the contact's own rows loses
    its label (the label was the name or address); any entry quoting them is scrubbed."""
    log, audit = _admin_log(contact, owned)
    for log_entry in LogEntry.objects.filter(log).select_related("content_type"):
        model = log_entry.content_type.model if log_entry.content_type else "object"
        label = f"{model} #{log_entry.object_id}"
        LogEntry.objects.filter(id=log_entry.id).update(object_repr=label)
    _scrub(LogEntry.objects.filter(log), ["change_message"], _all(person))
    fields = ["object_repr", "change_message"]
    _scrub(_mentioning(LogEntry, fields, person.ids), fields, person.pattern(names=False))
    for audit_entry in AuditEntry.objects.filter(audit).only("id", "target_type", "target_id"):
        label = f"{audit_entry.target_type} #{audit_entry.target_id}"
        AuditEntry.objects.filter(id=audit_entry.id).update(target_repr=label)
    _scrub(AuditEntry.objects.filter(audit), ["detail"], _all(person))
    fields = ["target_repr", "detail"]
    _scrub(_mentioning(AuditEntry, fields, person.ids), fields, person.pattern(names=False))


@transaction.atomic
def contact_erase(*, contact: Contact, actor=None) -> Contact:
    """Remove personal data but keep the rows that counts are made of.

    Enrollments, messages, deals, trigger fires, consent rows and webhook deliveries stay
    (campaign stats and logs do not change); what each table loses:

    contacts
    - Contact: names, company, title, country, locale, time zone, custom fields; tags.
    - Identity: value -> "erased-<id>", platform id, consent and opt-out sources.
    - ConsentRecord: note.  Suppression: only peppered hashes were ever kept; their
      addresses' entries now say "erased" so the person is never contacted again.
    - ContactImportError: rows holding them deleted (the import's counts stay).
    - ContactImport files: deleted or the person's records blanked (contacts/import_redact).
    - IdempotencyKey: a stored API response naming them is replaced.
    outreach
    - Message: subject, bodies, attachments, error and hold reasons, provider ids, public
      reply target.  MessageEvent: their values in the detail (provider ids, errors).
    - Conversation: comment id.  ConversationNote: deleted.
    - InboundEvent: payload replaced, an event id embedding theirs replaced, error blanked.
    - AuditEntry: label of entries about their rows; their values in any entry.
    - SenderAccount: their values in a pause reason or last error.
    campaigns
    - Enrollment hold reason, DealStageChange reason, TriggerFire detail: their values.
    - CaptureRequest: the captured answer (an address or number they typed).
    - WebhookDelivery: payload replaced; pending ones given up (never sent); the
      receivers' answers (WebhookAttempt) blanked.
    admin
    - LogEntry: label of entries about their rows; their values in any entry.
    Files: the import uploads above; the stored copies of the media they sent (inbound/,
    outreach/inbound_media.py), deleted. MediaAsset holds our templates' files only.
    Cache: it holds login-failure counters of staff only, nothing about contacts.
    """
    # Nothing more goes to them: their identities become placeholders below, so a queued
    # message would go out blank to an address that no longer names anyone.
    enrollments_stop_for_contact(
        contact_id=contact.id, state=Enrollment.State.STOPPED, reason="contact erased"
    )
    person = person_of(contact)
    owned = Owned.of(contact)
    _erase_logs(contact, owned, person)
    _erase_outgoing_webhooks(contact, person)
    _erase_inbound_events(person)
    _erase_messages(owned, person)

    mentioning = _mentioning(ContactImportError, ["row", "reason"], person.ids)
    ContactImportError.objects.filter(id__in=mentioning.values("id")).delete()
    stored = _mentioning(IdempotencyKey, ["response"], person.ids).values("id")
    IdempotencyKey.objects.filter(id__in=stored).update(response={ERASED: True})
    # A platform's error may quote the recipient it refused.
    fields = ["paused_reason", "last_error"]
    _scrub(_mentioning(SenderAccount, fields, person.ids), fields, person.pattern(names=False))

    pattern = _all(person)
    _scrub(Enrollment.objects.filter(id__in=owned.enrollments), ["hold_reason"], pattern)
    _scrub(DealStageChange.objects.filter(deal_id__in=owned.deals), ["reason"], pattern)
    _scrub(TriggerFire.objects.filter(contact=contact), ["detail"], pattern)
    CaptureRequest.objects.filter(conversation_id__in=owned.conversations).update(value="")

    identities = Identity.objects.filter(contact=contact).exclude(value__startswith=ERASED)
    erased_suppressions_add(identities=identities)
    for identity in identities:
        # Identity values are unique per channel; the id keeps the placeholder unique.
        Identity.objects.filter(id=identity.id).update(
            value=f"{ERASED}-{identity.id}",
            platform_user_id="",
            consent_source="",
            opt_out_source="",
        )
    ConsentRecord.objects.filter(contact=contact).update(note="")
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
    # Files last: a database error above rolls everything back before a file is touched.
    import_files_redact(row_matches=person.in_cells)
    contact.refresh_from_db()
    # Who erased whom, by id only ("Contact #12": the name is gone).
    audit_record(actor=actor, action="contact.erase", target=contact)
    return contact
