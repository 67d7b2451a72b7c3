"""Classify an inbound email: a human reply, an auto-reply or a bounce (DSN), and what it
refers to. Threading by In-Reply-To / References, never by subject."""

import email
import email.policy
import email.utils
import hashlib
import re
from email.message import EmailMessage, Message
from typing import Any

from outreach.channels.base import InboundItem
from outreach.replytext import html_text, reply_text

AUTO_SUBJECT = re.compile(
    r"^(auto(matic)?[ -]?reply|out of (the )?office|abwesenheit|absence|autosvar|"
    r"r[ée]ponse automatique|respuesta autom[áa]tica)",
    re.I,
)
DAEMON = re.compile(r"^(mailer-daemon|postmaster)@", re.I)
MSGID = re.compile(r"<[^<>\s]+>")


def _ids(value: str | None) -> list[str]:
    return MSGID.findall(value or "")


def _is_auto_reply(msg: EmailMessage) -> bool:
    auto = (msg.get("Auto-Submitted") or "no").strip().lower()
    precedence = (msg.get("Precedence") or "").strip().lower()
    return (
        auto != "no"
        or precedence in ("auto_reply", "bulk", "junk", "list")
        or msg.get("X-Autoreply") is not None
        or msg.get("X-Autorespond") is not None
        or msg.get("X-Auto-Response-Suppress") is not None
        or (msg.get("X-Apple-Action") or "").upper() == "VACATION"
        or bool(AUTO_SUBJECT.match(str(msg.get("Subject") or "")))
    )


def _is_bounce(msg: EmailMessage) -> bool:
    ctype = msg.get_content_type()
    report_type = msg.get_param("report-type")  # a tuple when RFC 2231 encoded
    report = email.utils.collapse_rfc2231_value(report_type).lower() if report_type else ""
    from_addr = email.utils.parseaddr(str(msg.get("From") or ""))[1]
    return (ctype == "multipart/report" and report == "delivery-status") or bool(
        DAEMON.match(from_addr)
    )


def _dsn(msg: EmailMessage) -> tuple[str, str, bool, list[str]]:
    """(recipient we sent to, status, hard?, Message-IDs of our bounced message)."""
    recipient, status, action, ours = "", "", "", []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in part.get_payload():
                if not isinstance(block, Message):
                    continue  # the parser makes every block a Message; for the type checker
                original = block.get("Original-Recipient") or block.get("Final-Recipient")
                if original and not recipient:
                    recipient = str(original).split(";", 1)[-1].strip()
                status = status or str(block.get("Status") or "").strip()
                action = action or str(block.get("Action") or "").strip().lower()
        elif ctype in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if inner is None and isinstance(payload, str):
                inner = email.message_from_string(payload, policy=email.policy.default)
            if isinstance(inner, Message):
                ours += _ids(inner.get("Message-ID"))
    hard = status.startswith("5") and action != "delayed" and not status.startswith("5.2.2")
    return recipient, status, hard, ours


def _text(msg: EmailMessage) -> str:
    """What the person wrote: the plain part, else the HTML part as text, with the quoted
    history and signature cut by the one reply parser (outreach/replytext.py)."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_type() == "text/html":
        content = html_text(content)
    return reply_text(content)


def _recipients(msg: EmailMessage) -> list[str]:
    """Every address the mail was delivered to: Delivered-To and X-Original-To (set by the
    receiving server, so an alias or a Bcc shows), then To and Cc."""
    headers = ("Delivered-To", "X-Original-To", "To", "Cc")
    values = [str(v) for h in headers for v in (msg.get_all(h) or [])]
    found = [addr.lower() for _, addr in email.utils.getaddresses(values) if "@" in addr]
    return list(dict.fromkeys(found))


def classify(raw: bytes) -> InboundItem:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    name, sender = email.utils.parseaddr(str(msg.get("From") or ""))
    to = email.utils.parseaddr(str(msg.get("To") or ""))[1].lower()
    refs = _ids(msg.get("In-Reply-To")) + _ids(msg.get("References"))
    event_id = (_ids(msg.get("Message-ID")) or [f"<no-id-{hashlib.sha1(raw).hexdigest()}>"])[0]
    common: dict[str, Any] = {
        "event_id": event_id,
        "account_id": to,
        "from_handle": sender.lower(),
        "from_name": name.strip(),
        "recipients": _recipients(msg),
    }
    if _is_bounce(msg):
        recipient, status, hard, ours = _dsn(msg)
        return InboundItem(
            kind="bounce",
            from_id="",
            refers_to=ours + refs,
            text=f"bounce {status or 'unknown'} for {recipient or 'unknown recipient'}",
            error_code=status,
            hard=hard,
            **common | {"from_handle": recipient.lower()},
        )
    kind = "auto_reply" if _is_auto_reply(msg) else "message"
    return InboundItem(
        kind=kind, text=_text(msg), refers_to=refs, name=str(msg.get("Subject") or ""), **common
    )
