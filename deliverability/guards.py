"""The bounce and complaint guards: what a sender's rolling rates (deliverability/rates.py)
do to it. Called by campaigns' answer to outreach (campaigns/seams.py) where outreach
records a bounce, a complaint or a failed send, inside that transaction.

- Below the sender's minimum volume nothing counts: two bounces in ten sends say little.
- Past a pause threshold (the sender's own, or its domain's rates past the sender's
  thresholds) the sender is paused through outreach's pause service, with the reason and
  since when, so every queued message holds with it (outreach/limits.py why_no_token).
- Between warn and pause the gap between sends widens: SenderAccount.gap_factor, which
  outreach/limits.py multiplies into the spacing, is 1 + rate / warn for the worst rate.
- An SMTP refusal for missing authentication pauses the sender at once, with the fix.
- A domain's reputation is shared (docs/deliverability.md#bounce-and-complaint-guards): when
  its senders together cross a pause threshold, or a refusal names the domain's DMARC
  alignment (5.7.515, 5.7.26), every sender on the domain is paused with a reason naming
  the domain; the domain page resumes them in one action (deliverability/services.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from deliverability.models import SenderGuard
from deliverability.rates import (
    Rates,
    domain_rates,
    domain_senders,
    sender_domain,
    sender_rates,
)
from outreach.models import Message, SenderAccount
from outreach.sending.control import sender_pause

DEGRADED = SenderAccount.Health.DEGRADED
# RFC 3463 codes the big providers answer to unauthenticated mail: Microsoft 5.7.515
# (May 2025), Gmail 5.7.26 (DMARC / unauthenticated), 5.7.25 (no PTR), 5.7.27 (SPF),
# 5.7.23/5.7.24 (SPF fail / error, RFC 7372); 5.7.1 only with words saying it is about
# authentication (it is also the code for spam and policy blocks).
AUTH_CODE = re.compile(r"(?<![\d.])5\.7\.(515|26|25|27|23|24)(?![\d.])")
# The refusals that judge the whole From domain (its DMARC alignment), not one mailbox.
DOMAIN_CODES = {"5.7.515", "5.7.26"}
AUTH_TEXT = re.compile(r"(?<![\d.])5\.7\.1(?![\d.]).*(authenticat|spf|dkim|dmarc)", re.I | re.S)


def guard_for(sender: SenderAccount) -> SenderGuard:
    """The sender's thresholds: its own row, or the defaults (unsaved)."""
    guard = SenderGuard.objects.filter(sender=sender).first()
    return guard or SenderGuard(sender=sender)


def _when(sender: SenderAccount, at: datetime) -> str:
    local = at.astimezone(ZoneInfo(sender.time_zone or "UTC"))
    return f"{local.day} {local:%b %H:%M}"


def _pct(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def _pause(sender: SenderAccount, reason: str, at: datetime) -> None:
    sender_pause(sender=sender, reason=reason, health=DEGRADED)
    SenderGuard.objects.update_or_create(
        sender=sender, defaults={"paused_at": at, "paused_reason": reason[:200]}
    )
    sender.paused, sender.paused_reason = True, reason[:200]


def domain_pause_reason(domain: str) -> str:
    """What every domain-wide pause reason contains (the domain page finds them by it)."""
    return f"sending domain {domain}: "


def _pause_domain(domain: str, what: str, at: datetime) -> None:
    """Pause every email sender on the domain that is not already paused."""
    senders = SenderAccount.objects.filter(id__in=domain_senders(domain), paused=False)
    for sender in senders.order_by("id"):
        _pause(sender, f"Paused {_when(sender, at)}: {domain_pause_reason(domain)}{what}", at)


def _crossed(guard: SenderGuard, rates: Rates, scope: str) -> str:
    """The first pause threshold these rates cross, in words, or ""."""
    checks = (
        ("complaint", rates.complaint_rate, guard.complaint_pause),
        ("hard-bounce", rates.bounce_rate, guard.bounce_pause),
    )
    for what, rate, limit in checks:
        if rate >= limit:
            return (
                f"{scope}{what} rate {_pct(rate)} over the last {rates.days} days "
                f"(limit {_pct(limit)})"
            )
    return ""


def _factor(guard: SenderGuard, rates: Rates) -> float:
    """1 below both warn thresholds; 1 + rate / warn for the worst one above."""
    factor = 1.0
    for rate, warn in (
        (rates.complaint_rate, guard.complaint_warn),
        (rates.bounce_rate, guard.bounce_warn),
    ):
        if rate >= warn:
            factor = max(factor, 1.0 + rate / warn)
    return round(factor, 2)


def guard_evaluate(*, sender: SenderAccount, now: datetime | None = None) -> str:
    """Hold the sender to its thresholds now: "paused", "slowed", "ok", or "too few sends"."""
    if sender.channel != "email":
        return "ok"
    now = now or timezone.now()
    guard = guard_for(sender)
    domain = sender_domain(sender)
    scopes = [("", sender_rates(sender, now=now, days=guard.window_days))]
    if domain:
        scopes.append((domain, domain_rates(domain, now=now, days=guard.window_days)))
    counted = [(scope, rates) for scope, rates in scopes if rates.sends >= guard.min_sends]
    if not counted:
        return "too few sends"
    for scope, rates in counted:
        crossed = _crossed(guard, rates, "")
        if crossed and scope:
            # The senders together: the domain's reputation is what providers judge.
            _pause_domain(scope, f"its senders' {crossed}", now)
            return "paused"
        if crossed:
            if not sender.paused:
                _pause(sender, f"Paused {_when(sender, now)}: {crossed}", now)
            return "paused"
    factor = max(_factor(guard, rates) for _, rates in counted)
    if factor != sender.gap_factor:
        SenderAccount.objects.filter(id=sender.id).update(gap_factor=factor)
        sender.gap_factor = factor
    return "slowed" if factor > 1 else "ok"


def auth_fix(reason: str, domain: str) -> str:
    """The fix to apply for an authentication refusal's text, or "" when it is not one."""
    code = AUTH_CODE.search(reason)
    found = code.group(0) if code else ("5.7.1" if AUTH_TEXT.search(reason) else "")
    if not found:
        return ""
    if found == "5.7.25":
        return (
            f"{found}: give the sending server's IP a reverse DNS (PTR) name that resolves "
            "back to it (ask your mail host)"
        )
    if found in ("5.7.27", "5.7.23", "5.7.24"):
        return f"{found}: publish an SPF record for {domain} that lists your mail server"
    return f"{found}: publish SPF and DKIM for {domain} and align DMARC; see Sending domains"


def guard_after_failure(*, message: Message, now: datetime | None = None) -> str:
    """An email failed: an authentication refusal pauses its sender at once; a bounce is
    weighed with the rest."""
    if message.channel != "email":
        return "ok"
    sender = SenderAccount.objects.get(id=message.sender_id)
    now = now or timezone.now()
    domain = sender_domain(sender)
    fix = auth_fix(message.error_reason or "", domain)
    if fix and domain and fix.split(":")[0] in DOMAIN_CODES:
        _pause_domain(domain, f"refused as unauthenticated ({fix})", now)
        return "paused"
    if fix:
        if not sender.paused:
            _pause(sender, f"Paused {_when(sender, now)}: refused as unauthenticated ({fix})", now)
        return "paused"
    return guard_evaluate(sender=sender, now=now)


def guard_after_complaint(*, message: Message) -> str:
    if message.channel != "email":
        return "ok"
    return guard_evaluate(sender=SenderAccount.objects.get(id=message.sender_id))


def guards_after_sends(*, sender_ids: set[int]) -> None:
    """Slowed senders speed up again as their rates fall back under warn."""
    slowed = SenderAccount.objects.filter(id__in=sender_ids, channel="email", gap_factor__gt=1)
    for sender in slowed:
        guard_evaluate(sender=sender)
