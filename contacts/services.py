import hashlib
import hmac
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from contacts.channels import CHANNEL_CHOICES
from contacts.models import ConsentRecord, Contact, Identity, Suppression
from contacts.seams import OptedOut, contacts_events

ERASED_SOURCE = "suppressed after erasure"
ERASED_REASON = "this address belongs to an erased contact"


def suppression_digest(channel: str, value: str) -> str:
    """Peppered SHA-256 (HMAC) of one normalized address on one channel ("" for every
    channel): all a Suppression keeps of the address."""
    message = f"{channel}:{value.strip().casefold()}".encode()
    return hmac.new(settings.SUPPRESSION_PEPPER.encode(), message, hashlib.sha256).hexdigest()


def suppressions_matching(value: str, channel: str | None = None) -> QuerySet[Suppression]:
    """The suppression entries that hold this address back on ``channel`` (its own and the
    every-channel ones), or on any channel when None (the admin's search)."""
    channels = [c for c, _ in CHANNEL_CHOICES] if channel is None else [channel]
    digests = {suppression_digest(c, value) for c in [*channels, ""]}
    return Suppression.objects.filter(digest__in=digests)


def address_suppress(*, channel: str, value: str, reason: str) -> Suppression:
    """Never contact this address again, whoever imports it later; the first reason stays.
    The address itself is not stored, only its digest."""
    suppression, _ = Suppression.objects.get_or_create(
        digest=suppression_digest(channel, value),
        defaults={"channel": channel, "reason": reason[:200]},
    )
    return suppression


def erased_suppressions_add(*, identities) -> None:
    """Remember that these addresses belong to an erased person: their entries say so from
    now on (whatever suppressed them before), so a re-import opts them out."""
    Suppression.objects.bulk_create(
        [
            Suppression(
                channel=i.channel,
                digest=suppression_digest(i.channel, i.value),
                reason=ERASED_REASON,
            )
            for i in identities
        ],
        update_conflicts=True,
        unique_fields=["digest"],
        update_fields=["reason"],
    )


def erased_suppressions_apply(*, contact_ids) -> int:
    """Opt out the identities of these (just imported) contacts whose address was erased
    before; returns how many. One query when nobody was ever erased."""
    erased = Suppression.objects.filter(reason=ERASED_REASON)
    if not erased.exists():
        return 0
    candidates = {
        suppression_digest(channel, value): pk
        for pk, channel, value in Identity.objects.filter(
            contact_id__in=contact_ids, opted_out_at__isnull=True
        ).values_list("pk", "channel", "value")
    }
    hits = erased.filter(digest__in=list(candidates)).values_list("digest", flat=True)
    ids = [candidates[d] for d in hits]
    return Identity.objects.filter(pk__in=ids).update(
        opted_out_at=timezone.now(), opt_out_source=ERASED_SOURCE
    )


def bounce_reason(at: datetime) -> str:
    """What a held message shows for a bounced address: "address bounced on 2026-12-06"."""
    return f"address bounced on {timezone.localdate(at).isoformat()}"


def identity_block_reason(*, identity: Identity) -> str:
    """Why this identity must not be messaged, or "" if it may be."""
    return identities_block_reasons([identity]).get(identity.id, "")


def identities_block_reasons(identities: list[Identity]) -> dict[int, str]:
    """Why each of these identities (with their contacts) must not be messaged, by identity
    id; the ones that may be are left out. One query, however many identities."""
    reasons: dict[int, str] = {}
    for identity in identities:
        if identity.contact.opted_out_at:
            reasons[identity.id] = "contact opted out of all channels"
        elif identity.opted_out_at:
            reasons[identity.id] = f"contact opted out of {identity.get_channel_display()}"
    rest = [i for i in identities if i.id not in reasons]
    if not rest:
        return reasons
    # An entry for this identity's channel or for every channel ("").
    wanted = {i.id: {suppression_digest(c, i.value) for c in (i.channel, "")} for i in rest}
    found = {
        s.digest: s for s in Suppression.objects.filter(digest__in=set().union(*wanted.values()))
    }
    for identity in rest:
        hits = [found[d] for d in wanted[identity.id] if d in found]
        oldest = min(hits, key=lambda s: s.pk, default=None)
        if oldest:
            reasons[identity.id] = f"suppressed: {oldest.reason or 'on the suppression list'}"
    return reasons


@transaction.atomic
def identity_opt_out(*, identity: Identity, source: str, actor=None, note: str = "") -> Identity:
    Identity.objects.filter(pk=identity.pk, opted_out_at__isnull=True).update(
        opted_out_at=timezone.now(), opt_out_source=source
    )
    ConsentRecord.objects.create(
        contact_id=identity.contact_id,
        identity=identity,
        channel=identity.channel,
        kind=ConsentRecord.Kind.OPTED_OUT,
        source=source,
        actor=actor,
        note=note,
    )
    identity.refresh_from_db()
    contacts_events().contact_opted_out(OptedOut(identity.contact, identity.channel, source))
    return identity


@transaction.atomic
def contact_opt_out(*, contact: Contact, source: str, actor=None, note: str = "") -> Contact:
    """Opt a contact out of every channel at once."""
    if Contact.objects.filter(pk=contact.pk, opted_out_at__isnull=True).update(
        opted_out_at=timezone.now()
    ):
        contacts_events().contacts_opt_out_changed([contact.pk], opted_out=True)
    ConsentRecord.objects.create(
        contact=contact, kind=ConsentRecord.Kind.OPTED_OUT, source=source, actor=actor, note=note
    )
    contact.refresh_from_db()
    contacts_events().contact_opted_out(OptedOut(contact, channel="", source=source))
    return contact


@transaction.atomic
def contact_opt_out_reverse(*, contact: Contact, actor, note: str) -> Contact:
    """Only a human may reverse an opt-out, and it leaves an audit record with a reason."""
    if not note.strip():
        raise ValueError("Reversing an opt-out needs a note saying why.")
    if Contact.objects.filter(pk=contact.pk, opted_out_at__isnull=False).update(opted_out_at=None):
        contacts_events().contacts_opt_out_changed([contact.pk], opted_out=False)
    Identity.objects.filter(contact=contact).update(opted_out_at=None, opt_out_source="")
    ConsentRecord.objects.create(
        contact=contact, kind=ConsentRecord.Kind.REINSTATED, source="admin", actor=actor, note=note
    )
    contact.refresh_from_db()
    return contact


def identity_grant_consent(*, identity: Identity, source: str, actor=None) -> Identity:
    with transaction.atomic():
        Identity.objects.filter(pk=identity.pk).update(
            consent_at=timezone.now(), consent_source=source
        )
        ConsentRecord.objects.create(
            contact_id=identity.contact_id,
            identity=identity,
            channel=identity.channel,
            kind=ConsentRecord.Kind.GRANTED,
            source=source,
            actor=actor,
        )
    identity.refresh_from_db()
    return identity
