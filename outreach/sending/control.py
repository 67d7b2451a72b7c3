"""Switching sending off and on: one sender's pause and resume, and the kill switch for all
of them. Each change is audited.

The claim re-checks both under its locks (gate.py, claim.py), so a pause takes effect for
every message not yet claimed; resuming clears the holds they left, so the messages are
offered again at the next tick.
"""

from core.audit import audit_record
from outreach.models import Message, SenderAccount, SendingSwitch

S = Message.Status


def sender_pause(
    *, sender: SenderAccount, reason: str, health: str | None = None, actor=None
) -> None:
    updates: dict = {"paused": True, "paused_reason": reason[:200]}
    if health:
        updates["health"] = health
        updates["last_error"] = reason[:300]
    SenderAccount.objects.filter(id=sender.id).update(**updates)
    audit_record(actor=actor, action="sender.pause", target=sender, detail=reason)


def sender_resume(*, sender: SenderAccount, actor=None) -> None:
    SenderAccount.objects.filter(id=sender.id).update(
        paused=False, paused_reason="", health=SenderAccount.Health.OK
    )
    Message.objects.filter(
        sender=sender, status=S.QUEUED, hold_reason__startswith="sender paused"
    ).update(hold_reason="")
    audit_record(actor=actor, action="sender.resume", target=sender)


def sending_switch_set(*, paused: bool, reason: str = "", actor=None) -> None:
    SendingSwitch.objects.update_or_create(
        id=1, defaults={"paused": paused, "reason": reason, "changed_by": actor}
    )
    if not paused:
        # Messages the switch held wait for nothing now: offer them again at once.
        Message.objects.filter(
            status=S.QUEUED, hold_reason__startswith="all sending paused"
        ).update(hold_reason="")
    audit_record(actor=actor, action="sending.stop" if paused else "sending.start", detail=reason)
