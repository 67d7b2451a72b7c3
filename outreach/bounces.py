"""What a delivery report or a feedback mail says: who bounced, how (hard or soft), whether
it is only a delay warning, whether it is a spam complaint, and which of our messages it
returns.

Who bounced comes from flufl.bounce (GNU Mailman's detectors: RFC 3464 DSNs and the text of
Exim, qmail, Postfix, Yahoo, GMX, Exchange and others), plus X-Failed-Recipients. flufl.bounce
does not read status codes (it counts "Action: failed" with 4.0.0 or 5.2.2 as permanent) and
does not tell a spam complaint from a bounce, so the status, hard/soft and complaints are read
here.

Matching to our message: every email we send carries a Message-ID made of the message's own
idempotency key (outreach/channels/email/backend.py message_id_for), so that id is the per-message
token. The envelope sender (Return-Path) is left as the sender's mailbox: a VERP address
(bounces+token@domain) only works where the mailbox's server accepts plus-addressing, and a
Return-Path that does not deliver loses every bounce. Reports that do not return the original,
or return it without its Message-ID, are matched by the failed address in outreach/inbound/match.py.
"""

import email
import email.utils
import logging
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

from flufl.bounce import all_failures

from outreach import mailpolicy

log = logging.getLogger(__name__)

DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.I)
BOUNCE_SUBJECT = re.compile(
    r"(undeliver|undelivered mail|delivery status notification|failure notice|"
    r"mail delivery (failed|failure|system)|returned mail|delivery (has )?failed|"
    r"nondeliverable|non[- ]delivery|unzustellbar|nicht zustellbar)",
    re.I,
)
DELAY_TEXT = re.compile(
    r"(has been delayed|has not yet been delivered|delivery (is )?delayed|"
    r"will (be )?retr(y|ied)|warning: message .* delayed|delivery status notification \(delay\)|"
    r"this is just a warning|no action is required on your part|verzögert)",
    re.I,
)
# An enhanced status code (RFC 3463) or an SMTP reply code in a report's text.
ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
SMTP_CODE = re.compile(r"(?<![\d.])([45])\d\d(?![\d.])[ :-]")
# What the common MTAs write for a mailbox that does not exist (Gmail, Exchange, Postfix,
# Exim, qmail, Yahoo, GMX), when they give no code.
HARD_TEXT = re.compile(
    r"(does not exist|doesn't exist|user unknown|unknown user|no such user|"
    r"no mailbox here|mailbox unavailable|mailbox not found|recipient not found|"
    r"address rejected|invalid recipient|recipient address rejected|failed permanently|"
    r"permanent (error|failure)|account (has been )?disabled|not a valid mailbox|"
    r"unrouteable address|no such (person|recipient))",
    re.I,
)
FULL_TEXT = re.compile(r"(mailbox (is )?full|over quota|quota exceeded|insufficient storage)", re.I)
# Where a text-only report pastes the returned message (Postfix, qmail, Yahoo, Exim, GMX, Gmail).
COPY_FOLLOWS = re.compile(
    r"^\s*-+ ?(below this line|this is a copy|the header of the original|original message)",
    re.I | re.M,
)
HEADER_MSGID = re.compile(r"^message-id:\s*(<[^<>\s]+>)", re.I | re.M)
MSGID = re.compile(r"<[^<>\s]+>")
ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")
# Hotmail/Outlook.com's JMRP and other providers' feedback loops that send the complained-about
# message without the ARF report part.
JMRP_FROM = re.compile(r"^(staff@hotmail\.com|.*@(feedback|fbl|abuse)[.-])", re.I)


@dataclass
class Report:
    kind: str  # "bounce" | "delayed" | "complaint"
    recipients: list[str] = field(default_factory=list)  # addresses that failed / complained
    status: str = ""  # "5.1.1", or a bare SMTP code "550" when no enhanced code is given
    hard: bool = False
    ours: list[str] = field(default_factory=list)  # Message-IDs of the returned original


def read(msg: EmailMessage) -> Report | None:
    """The report this mail is, or None for an ordinary mail (a reply, an auto-reply)."""
    if _is_complaint(msg):
        return Report(kind="complaint", recipients=_complainants(msg), ours=_returned_ids(msg))
    if not _looks_like_report(msg):
        return None
    recipients, status, actions = _dsn_fields(msg)
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector choking on a malformed mail: read the rest ourselves
        log.warning("flufl.bounce failed on %s", msg.get("Message-ID"), exc_info=True)
        temporary, permanent = frozenset(), frozenset()
    failed = [a.decode().lower() for a in sorted(permanent | temporary)]
    text = _report_text(msg)
    status = status or status_in(text)
    if actions:
        delayed = all(a.startswith("delayed") for a in actions)
    else:
        delayed = bool(temporary and not permanent) or (
            not status.startswith("5") and bool(DELAY_TEXT.search(text))
        )
    if delayed:
        return Report(kind="delayed", recipients=recipients or failed, status=status)
    x_failed = email.utils.getaddresses([str(v) for v in msg.get_all("X-Failed-Recipients") or []])
    found = (
        recipients
        or failed
        or [a.lower() for _, a in x_failed if "@" in a]
        or _addresses_in(text, msg)
    )
    if not status and (permanent or x_failed or HARD_TEXT.search(text)):
        status = "4.2.2" if FULL_TEXT.search(text) else "5.0.0"
    return Report(
        kind="bounce",
        recipients=list(dict.fromkeys(found)),
        status=status,
        hard=_hard(status),
        ours=_returned_ids(msg),
    )


def _hard(status: str) -> bool:
    """Permanent: a 5.x.x or 5xx, except a full mailbox (5.2.2), which may empty again."""
    return status.startswith("5") and not status.startswith(("5.2.2", "552"))


def _looks_like_report(msg: EmailMessage) -> bool:
    report = _report_type(msg)
    from_addr = email.utils.parseaddr(str(msg.get("From") or ""))[1]
    return (
        report == "delivery-status"
        or bool(DAEMON.match(from_addr))
        or msg.get("X-Failed-Recipients") is not None
        or (
            bool(BOUNCE_SUBJECT.search(str(msg.get("Subject") or "")))
            and (str(msg.get("Return-Path") or "").strip() in ("", "<>") or _auto(msg))
        )
    )


def _auto(msg: EmailMessage) -> bool:
    return (msg.get("Auto-Submitted") or "no").strip().lower() != "no"


def _report_type(msg: Message) -> str:
    if msg.get_content_type() != "multipart/report":
        return ""
    value = msg.get_param("report-type")  # a tuple when RFC 2231 encoded
    return email.utils.collapse_rfc2231_value(value).lower() if value else ""


def _is_complaint(msg: EmailMessage) -> bool:
    """An ARF report (RFC 5965), or a feedback loop's mail that returns our message without
    one (Hotmail's JMRP: from staff@hotmail.com, X-HmXmrOriginalRecipient)."""
    if _report_type(msg) == "feedback-report":
        return True
    if any(p.get_content_type() == "message/feedback-report" for p in msg.walk()):
        return True
    from_addr = email.utils.parseaddr(str(msg.get("From") or ""))[1]
    returns_a_message = any(p.get_content_type() == "message/rfc822" for p in msg.walk())
    return returns_a_message and (
        msg.get("X-HmXmrOriginalRecipient") is not None or bool(JMRP_FROM.match(from_addr))
    )


def _complainants(msg: EmailMessage) -> list[str]:
    """Who complained: the report's Original-Rcpt-To, Hotmail's header, else the To of the
    returned message (ours, so the address we sent to)."""
    found = [str(v) for v in msg.get_all("X-HmXmrOriginalRecipient") or []]
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            found += _report_fields(part, "Original-Rcpt-To")
    for inner in _returned(msg):
        found += [str(v) for v in inner.get_all("To") or []]
    addresses = [a.lower() for _, a in email.utils.getaddresses(found) if "@" in a]
    return list(dict.fromkeys(addresses))


def _report_fields(part: Message, name: str) -> list[str]:
    """A field of a message/feedback-report or delivery-status part, however it was parsed."""
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    values = [str(v) for b in blocks if isinstance(b, Message) for v in b.get_all(name) or []]
    if isinstance(payload, str):
        values += re.findall(rf"^{name}:\s*(.+)$", payload, re.I | re.M)
    return values


def _dsn_fields(msg: EmailMessage) -> tuple[list[str], str, list[str]]:
    """From the delivery-status parts: the recipients we sent to (Original-Recipient, the
    address we used, before Final-Recipient, which may be an expanded alias), the first
    status and every action."""
    recipients: list[str] = []
    status, actions = "", []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        for block in payload if isinstance(payload, list) else []:
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action") or "").strip().lower()
            if action:
                actions.append(action)
            original = block.get("Original-Recipient") or block.get("Final-Recipient")
            if original:
                address = str(original).split(";", 1)[-1].strip().strip("<>").lower()
                if "@" in address:
                    recipients.append(address)
            status = status or str(block.get("Status") or "").strip().split(" ")[0]
    return list(dict.fromkeys(recipients)), status, actions


def _report_text(msg: EmailMessage) -> str:
    """The human-readable part of a report (before the returned message)."""
    texts = []
    for part in msg.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            break
        if part.get_content_maintype() == "text":
            try:
                texts.append(str(part.get_content()))
            except (LookupError, UnicodeError, AssertionError):
                payload = part.get_payload(decode=True)
                texts.append(payload.decode("latin-1") if isinstance(payload, bytes) else "")
    return "\n".join(texts)


def _addresses_in(text: str, msg: EmailMessage) -> list[str]:
    """Last resort for reports no detector knows (Postfix's newer wording, Gmail's "Address
    not found"): the addresses the report's text names, but not the report's own sender and
    receiver. Only a report that also returns our message to one of them can match, or one
    that came to the mailbox our latest message to that address went from."""
    own = {a.lower() for _, a in email.utils.getaddresses(_header_values(msg)) if "@" in a}
    report = COPY_FOLLOWS.split(text, maxsplit=1)[0]  # not the returned copy's headers
    found = [m.group(0).lower().rstrip(".") for m in ADDRESS.finditer(report)]
    return [a for a in dict.fromkeys(found) if a not in own]


def _header_values(msg: EmailMessage) -> list[str]:
    names = ("From", "To", "Cc", "Delivered-To", "X-Original-To", "Return-Path", "Sender")
    return [str(v) for h in names for v in msg.get_all(h) or []]


def status_in(text: str) -> str:
    """The first enhanced status code in the text, else the first SMTP reply code."""
    enhanced = ENHANCED.search(text)
    if enhanced:
        return ".".join(enhanced.groups())
    code = SMTP_CODE.search(text)
    return code.group(0)[:3] if code else ""


def _returned(msg: EmailMessage) -> list[Message]:
    found: list[Message] = []
    for part in msg.walk():
        if part.get_content_type() not in ("message/rfc822", "text/rfc822-headers"):
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            found += [p for p in payload if isinstance(p, Message)]
        elif isinstance(payload, str):
            found.append(email.message_from_string(payload, policy=mailpolicy.reading()))
    return found


def _returned_ids(msg: EmailMessage) -> list[str]:
    """Message-IDs of the returned original: from an attached message or headers part, or
    from the copy most MTAs paste into the report's text (Gmail, Exim, qmail, GMX, Yahoo)."""
    ids: list[str] = []
    for inner in _returned(msg):
        ids += MSGID.findall(str(inner.get("Message-ID") or ""))
    if not ids:
        ids += HEADER_MSGID.findall(_report_text(msg))
    return list(dict.fromkeys(ids))
