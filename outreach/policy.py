"""Platform messaging rules as plain functions of time (docs/channels.md#policy-windows).

The channel backends call these from check_policy() and, where the rule also shapes the
request (Instagram private reply, HUMAN_AGENT tag), from send(), so both agree.
"""

from datetime import datetime, timedelta

from outreach.channels.base import PolicyDecision

STANDARD_WINDOW = timedelta(hours=24)  # Meta (IG, Messenger) and WhatsApp
HUMAN_AGENT_WINDOW = timedelta(days=7)  # Meta HUMAN_AGENT tag, human-written replies only
PRIVATE_REPLY_WINDOW = timedelta(days=7)  # one private reply per comment
# A held message is looked at again after this long; an inbound message releases it sooner.
RECHECK = timedelta(hours=1)


def window_open(last_inbound_at: datetime | None, now: datetime, length: timedelta) -> bool:
    return last_inbound_at is not None and now < last_inbound_at + length


def hold(reason: str, now: datetime) -> PolicyDecision:
    """Not now: the message waits with a reason a rep can read."""
    return PolicyDecision(allowed=False, reason=reason, retry_at=now + RECHECK)


def thread_owned_elsewhere(
    thread_owner: str, human_written: bool, now: datetime
) -> PolicyDecision | None:
    """Meta's handover protocol: while another app (a human inbox tool) owns the thread, our
    automated messages wait; a rep's own reply may still go. Looked at again hourly, and
    released when the thread is passed back."""
    if not thread_owner or human_written:
        return None
    return hold(f"another app ({thread_owner}) owns this conversation (Meta handover)", now)


def meta_route(
    *,
    now: datetime,
    last_inbound_at: datetime | None,
    comment_id: str,
    comment_at: datetime | None,
    human_written: bool,
) -> str:
    """How Meta lets this message go: "response" inside the 24 h window, "human_agent"
    (tagged, human-written, 7 days), "private_reply" to a recent comment, or "" (it may not)."""
    if window_open(last_inbound_at, now, STANDARD_WINDOW):
        return "response"
    if human_written and window_open(last_inbound_at, now, HUMAN_AGENT_WINDOW):
        return "human_agent"
    if comment_id and window_open(comment_at, now, PRIVATE_REPLY_WINDOW):
        return "private_reply"
    return ""


def template_of(attachments: list[dict]) -> dict | None:
    """A WhatsApp template travels as an attachment {"type": "template", "name", ...}."""
    return next((a for a in attachments if a.get("type") == "template"), None)


# Meta stopped delivering marketing template messages to US (+1) WhatsApp numbers from
# 1 April 2025 (docs/deliverability.md#whatsapp). No retry time: it is refused, not held.
US_MARKETING_PAUSED = (
    "WhatsApp does not deliver marketing templates to US (+1) numbers since April 2025: "
    "use a utility template or another channel"
)


def us_marketing(template: dict, recipient: str) -> bool:
    """A MARKETING template (its category as synced from Meta) to a +1 number."""
    category = str(template.get("category") or "").upper()
    return category == "MARKETING" and recipient.replace(" ", "").lstrip("+").startswith("1")
