"""Sending domains: found from email senders, checked against DNS, given a DKIM key, and
what a failing one means for a campaign (warning, or a blocked launch when strict)."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.teams import Team
from deliverability.checks import domain_results
from deliverability.dkim import key_pair
from deliverability.guards import domain_pause_reason
from deliverability.models import SenderGuard, SendingDomain
from deliverability.rates import domain_senders
from outreach.models import SenderAccount
from outreach.sending.control import sender_resume


def sender_domain(sender: SenderAccount) -> str:
    """The domain of an email sender's From address ("" for other channels)."""
    if sender.channel != "email":
        return ""
    return sender.handle.strip().rpartition("@")[2].strip(" >").lower()


def _team_of(sender: SenderAccount) -> Team | None:
    if sender.owner_id is None:
        return None
    member = Team.objects.filter(members=sender.owner_id).order_by("id").first()
    return member or Team.objects.filter(managers=sender.owner_id).order_by("id").first()


def domains_discover(senders: Iterable[SenderAccount] | None = None) -> list[SendingDomain]:
    """A SendingDomain for the domain of every email sender (all of them by default), made
    for the team of the first sender's owner; existing ones are left as they are."""
    if senders is None:
        senders = SenderAccount.objects.filter(channel="email").order_by("id")
    found: dict[str, SendingDomain] = {}
    for sender in senders:
        name = sender_domain(sender)
        if not name or "." not in name or name in found:
            continue
        found[name], _ = SendingDomain.objects.get_or_create(
            domain=name, defaults={"team": _team_of(sender)}
        )
    return list(found.values())


def domain_check(*, domain: SendingDomain) -> SendingDomain:
    """Look the domain's records up now and keep the results."""
    domain.results = domain_results(domain)
    domain.checked_at = timezone.now()
    domain.save(update_fields=["results", "checked_at"])
    return domain


def domains_check_all() -> int:
    """The daily re-check: every email sender's domain, found first."""
    domains_discover()
    count = 0
    for domain in SendingDomain.objects.all():
        domain_check(domain=domain)
        count += 1
    return count


@transaction.atomic
def domain_key_generate(*, domain: SendingDomain, actor=None) -> SendingDomain:
    """A new 2048-bit key pair; signing starts with it at once, so publish the record (the
    domain page shows it) before sending, or receivers see a signature they cannot check."""
    domain.dkim_private_key, domain.dkim_public_key = key_pair()
    domain.signing = True
    domain.save(update_fields=["dkim_private_key", "dkim_public_key", "signing"])
    audit_record(actor=actor, action="sending_domain.dkim_key", target=domain)
    return domain_check(domain=domain)


def domain_strict_set(*, domain: SendingDomain, strict: bool, actor=None) -> SendingDomain:
    domain.strict = strict
    domain.save(update_fields=["strict"])
    audit_record(
        actor=actor, action="sending_domain.strict", target=domain, detail=f"strict: {strict}"
    )
    return domain


def domain_paused_senders(domain: SendingDomain):
    """The domain's senders paused for the domain as a whole (deliverability/guards.py), not
    those paused for their own rates or by hand."""
    return SenderAccount.objects.filter(
        id__in=domain_senders(domain.domain),
        paused=True,
        paused_reason__contains=domain_pause_reason(domain.domain),
    ).order_by("handle")


@transaction.atomic
def domain_resume(*, domain: SendingDomain, actor=None) -> list[str]:
    """Resume every sender the domain-wide pause stopped, as one audited action; their held
    messages go again through the usual claim. Returns the senders' addresses."""
    senders = list(domain_paused_senders(domain).select_for_update())
    for sender in senders:
        sender_resume(sender=sender, actor=actor)
    SenderGuard.objects.filter(sender__in=senders).update(paused_at=None, paused_reason="")
    handles = [s.handle for s in senders]
    audit_record(
        actor=actor,
        action="sending_domain.resume",
        target=domain,
        detail=f"resumed {len(handles)} sender(s): {', '.join(handles)}"[:500],
    )
    return handles


def domain_failure_text(domain: SendingDomain) -> str:
    names = {"spf": "SPF", "dkim": "DKIM", "dmarc": "DMARC", "alignment": "DMARC alignment"}
    words = {"missing": "missing"}
    parts = [
        f"{names[k]} {words.get(domain.results[k]['status'], 'failing')}"
        for k in domain.failing_records
    ]
    return f"Sending domain {domain.domain}: {', '.join(parts)}."


def senders_domain_problems(senders: Iterable[SenderAccount]) -> tuple[list[str], list[str]]:
    """(errors, warnings) for a campaign sending from these senders: each failing domain
    blocks when strict, else warns. Domains never checked yet say nothing."""
    names = {sender_domain(s) for s in senders} - {""}
    errors, warnings = [], []
    for domain in SendingDomain.objects.filter(domain__in=names):
        if domain.failing_records:
            text = domain_failure_text(domain)
            if domain.strict:
                errors.append(f"{text} It is strict: fix the records before launching.")
            else:
                warnings.append(text)
    return errors, warnings


def domains_failing(domains: Iterable[SendingDomain]) -> list[SendingDomain]:
    """Those whose last check did not pass every record (the dashboard's warning)."""
    return [d for d in domains if d.failing_records]
