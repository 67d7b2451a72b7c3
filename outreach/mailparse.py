"""Classify an inbound email: a human reply, an auto-reply or a bounce (DSN), and what it
refers to. Threading by In-Reply-To / References, never by subject."""

import email
import email.utils
import hashlib
import re
from email.message import EmailMessage, MIMEPart
from typing import Any

from intent.replytext import html_text, reply_text
from outreach import bounces, mailpolicy
from outreach.channels.base import InboundItem

AUTO_SUBJECT = re.compile(
    r"^(auto(matic)?[ -]?reply|out of (the )?office|abwesenheit|absence|autosvar|"
    r"r[ée]ponse automatique|respuesta autom[áa]tica)",
    re.I,
)
ONE_CLICK = re.compile(r"^\s*unsubscribe\s*$", re.I)
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


def _text(msg: EmailMessage) -> str:
    """What the person wrote: the plain part, else the HTML part as text, with the quoted
    history and signature cut by the one reply parser (intent/replytext.py)."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = _decoded(part)
    if part.get_content_type() == "text/html":
        content = html_text(content)
    return reply_text(content)


def _decoded(part: MIMEPart) -> str:
    """The part's text. Mail that declares us-ascii or UTF-8 but carries Windows-1252 bytes
    (old clients and gateways do this to German umlauts) is read as Windows-1252, so "für"
    is not stored as "f\ufffdr"."""
    content = part.get_content()
    declared = (part.get_content_charset() or "us-ascii").lower()
    if "\ufffd" not in content or declared not in ("us-ascii", "ascii", "utf-8", "utf8"):
        return content
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return content
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _recipients(msg: EmailMessage) -> list[str]:
    """Every address the mail was delivered to: Delivered-To and X-Original-To (set by the
    receiving server, so an alias or a Bcc shows), then To and Cc."""
    headers = ("Delivered-To", "X-Original-To", "To", "Cc")
    values = [str(v) for h in headers for v in (msg.get_all(h) or [])]
    found = [addr.lower() for _, addr in email.utils.getaddresses(values) if "@" in addr]
    return list(dict.fromkeys(found))


def classify(raw: bytes) -> InboundItem:
    msg = email.message_from_bytes(raw, policy=mailpolicy.reading())
    name, sender = email.utils.parseaddr(str(msg.get("From") or ""))
    to = email.utils.parseaddr(str(msg.get("To") or ""))[1].lower()
    # Nearest first: the message it answers, then its ancestors from the newest back (RFC 5322
    # 3.6.4: References ends with the parent), so a reply to step 1 sent after step 2 links
    # to step 1.
    refs = list(dict.fromkeys(_ids(msg.get("In-Reply-To")) + _ids(msg.get("References"))[::-1]))
    message_id = next(iter(_ids(msg.get("Message-ID"))), "")
    common: dict[str, Any] = {
        "event_id": message_id or f"<no-id-{hashlib.sha1(raw).hexdigest()}>",
        "message_id": message_id,
        "account_id": to,
        "from_handle": sender.lower(),
        "from_name": name.strip(),
        "recipients": _recipients(msg),
    }
    report = bounces.read(msg)
    if report is not None:
        return _report_item(report, refs, common)
    subject = str(msg.get("Subject") or "")
    if ONE_CLICK.match(subject):
        # A mail client's one-click unsubscribe (Apple Mail marks it auto-replied): its body
        # is the client's boilerplate, the subject is the request.
        return InboundItem(kind="message", text=subject.strip(), refers_to=refs, **common)
    kind = "auto_reply" if _is_auto_reply(msg) else "message"
    return InboundItem(
        kind=kind, text=_text(msg), refers_to=refs, name=str(msg.get("Subject") or ""), **common
    )


def _report_item(report: bounces.Report, refs: list[str], common: dict[str, Any]) -> InboundItem:
    """A bounce, a delay warning or a spam complaint; from_handle is the address it names."""
    first = report.recipients[0] if report.recipients else ""
    what = {"bounce": f"bounce {report.status or 'unknown'}", "delayed": "delivery delayed"}
    text = f"{what.get(report.kind, 'spam complaint')} for {first or 'unknown recipient'}"
    return InboundItem(
        kind=report.kind,
        refers_to=report.ours + refs,
        text=text,
        error_code=report.status,
        hard=report.hard,
        failed_recipients=report.recipients,
        **common | {"from_handle": first},
    )
