"""Email through Django's mail machinery (SMTP in production), with our own Message-ID,
threading headers and RFC 8058 one-click unsubscribe (docs/channels.md#email)."""

import smtplib
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

from anymail.exceptions import AnymailConfigurationError, AnymailError
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.html import format_html
from django.utils.module_loading import import_string

from outreach.bounces import status_in as bounce_status
from outreach.channels import http
from outreach.channels.base import (
    Ambiguous,
    AuthExpired,
    BaseChannel,
    Bounced,
    ChannelError,
    InboundItem,
    OutgoingMessage,
    Permanent,
    RateLimited,
    RecipientUnreachable,
    Transient,
)
from outreach.channels.email.esp import esp_connection, esp_message_id, esp_refusal
from outreach.mailparse import classify

UNSUBSCRIBE_SALT = "outreach.unsubscribe"


def message_id_for(idempotency_key: str, from_address: str) -> str:
    """Deterministic, so the id is known before the send and a retry reuses it."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{idempotency_key}@{domain}>"


def unsubscribe_token(address: str) -> str:
    return signing.dumps({"email": address.lower()}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_address(token: str) -> str | None:
    try:
        return signing.loads(token, salt=UNSUBSCRIBE_SALT)["email"]
    except (signing.BadSignature, KeyError, TypeError):
        return None


def unsubscribe_url(address: str) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}/u/{unsubscribe_token(address)}/"


def smtp_refusal(exc: smtplib.SMTPResponseException) -> ChannelError:
    """A definite SMTP refusal by its reply code (docs/channels.md#normalized-errors): 4xx try again
    (421 and "too many" are rate limits), 5xx never."""
    code = exc.smtp_code
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
    reason = f"{code} {text}".strip()[:300]
    tag = f"smtp_{code}"
    if 400 <= code < 500:
        if code == 421 or "too many" in text.lower() or "rate" in text.lower():
            return RateLimited(f"SMTP: {reason}", retry_after=300, code=tag)
        return Transient(f"SMTP: {reason}", code=tag)
    if 500 <= code < 600:
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return Permanent(f"sender refused: {reason}", code=tag)
        return Permanent(f"message refused: {reason}", code=tag)
    return Ambiguous(f"SMTP: {reason}", code=tag)


class _Signed:
    """The MIME message with the signer's header (e.g. DKIM-Signature) before its own
    headers: Django's mail backends serialise it with as_bytes, and the signature was made
    over exactly those bytes (CRLF, as SMTP sends them)."""

    def __init__(self, msg: Any, header: bytes) -> None:
        self._msg, self._header = msg, header

    def __getattr__(self, name: str) -> Any:
        return getattr(self._msg, name)

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        header = self._header.replace(b"\r\n", b"\n").replace(b"\n", linesep.encode())
        return header + self._msg.as_bytes(unixfrom, linesep=linesep)


class SignedEmail(EmailMultiAlternatives):
    """An email signed by EMAIL_MESSAGE_SIGNER (a dotted path to ``sign(message: bytes,
    from_domain: str) -> header bytes | None``; empty: unsigned). A setting, not an import:
    the signer (deliverability/dkim.py) sits in a layer above outreach."""

    def message(self, **kwargs: Any) -> Any:
        msg: Any = super().message(**kwargs)  # Django's SafeMIME, whose as_bytes takes linesep
        path = getattr(settings, "EMAIL_MESSAGE_SIGNER", "")
        if not path:
            return msg
        header = import_string(path)(
            msg.as_bytes(linesep="\r\n"), parseaddr(self.from_email)[1].rpartition("@")[2].lower()
        )
        return _Signed(msg, header) if header else msg


class EmailChannel(BaseChannel):
    def __init__(self, *, channel: str, **options: Any) -> None:
        super().__init__(channel=channel, **options)
        self.webhook_secret = options.get("webhook_secret", "")

    def send(self, message: OutgoingMessage) -> str:
        msgid = message_id_for(message.idempotency_key, message.sender_handle)
        thread = _thread_of(message.message_id)
        subject = message.subject
        headers = {
            "Message-ID": msgid,
            "List-Unsubscribe": f"<{unsubscribe_url(message.recipient)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        if thread:
            ids, first_subject = thread
            headers["In-Reply-To"] = ids[-1]
            headers["References"] = " ".join(ids)
            subject = subject or first_subject
            if not subject.lower().startswith("re:"):
                subject = f"Re: {subject}"
        email = SignedEmail(
            subject=subject,
            body=message.body,
            from_email=message.sender_handle,
            to=[message.recipient],
            headers=headers,
            connection=(
                esp_connection(message)
                if message.sender_esp
                else get_connection(**self.options.get("connection", {}))
            ),
        )
        html = message.body_html
        for a in message.attachments:
            if a.get("url"):
                label = a.get("name") or a["type"]
                email.body += f"\n\n{label}: {a['url']}"
                if html and a["url"].startswith(("https://", "http://")):
                    html += format_html('\n<p><a href="{}">{}</a></p>', a["url"], label)
        if html:
            # multipart/alternative: clients that render HTML show it, the rest the text.
            email.attach_alternative(html, "text/html")
        try:
            email.send()
        except (AnymailError, AnymailConfigurationError) as exc:
            # Before OSError: anymail's HTTP errors are requests' (IOError) too.
            raise esp_refusal(exc) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, said = next(iter(exc.recipients.values()))
            text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
            reason = f"{code} {text}".strip()[:300]
            if code == 421 or "too many" in text.lower() or "rate" in text.lower():
                raise RateLimited(f"recipient deferred: {reason}", retry_after=300) from exc
            if 400 <= code < 500:
                # A soft bounce (a full mailbox, greylisting): this recipient's trouble, not
                # the sender's, so this message alone is retried with backoff, then fails.
                raise Transient(
                    f"recipient deferred: {reason}", code=f"soft_bounce_{code}"
                ) from exc
            if 500 <= code < 600:
                status = bounce_status(reason) or str(code)
                if status.startswith("5.7.") and status != "5.7.1":
                    # 5.7.x names our sender's authentication (5.7.515, 5.7.26, 5.7.23-27),
                    # not the address: failing it must not suppress the recipient, and the
                    # guards (docs/deliverability.md) pause the sender with the fix.
                    raise Permanent(f"message refused: {reason}", code=f"smtp_{status}") from exc
                raise Bounced(f"recipient refused: {reason}", code=f"bounce_{status}") from exc
            raise RecipientUnreachable(f"recipient refused: {reason}", code=f"smtp_{code}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthExpired(f"SMTP login failed: {exc.smtp_code}") from exc
        except (smtplib.SMTPConnectError, ConnectionRefusedError) as exc:
            raise Transient(f"SMTP server unreachable: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            # MAIL FROM refused, or the message refused at the end of DATA: the server
            # answered with a code, so it did not take the message.
            raise smtp_refusal(exc) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # A disconnect or timeout, possibly after DATA was sent: maybe delivered.
            raise Ambiguous(f"SMTP: {exc}") from exc
        return esp_message_id(email) if message.sender_esp else msgid

    # --- inbound (an ESP's inbound-parse webhook posting the raw message) ---------------

    def verify_headers(self, headers: Mapping[str, str]) -> bool:
        return http.same(headers.get("X-Webhook-Secret", ""), self.webhook_secret)

    def verify_signature(self, headers: Mapping[str, str], body: bytes) -> bool:
        return self.verify_headers(headers)  # the secret header is the whole check

    def parse_webhook(self, body: bytes) -> list[InboundItem]:
        return [classify(body)]


def _thread_of(message_id: int) -> tuple[list[str], str] | None:
    """Message-IDs of our earlier emails in this conversation, oldest first, and the first
    subject: follow-ups thread under them (In-Reply-To / References, RFC 5322 3.6.4). The
    header id is our own (message_id_for) whether SMTP or an ESP sent it: Postmark keeps a
    Message-ID given in its API's Headers, Mailgun its h:Message-Id, while the id they answer
    (provider_message_id) may be their own."""
    from outreach.models import Message

    conversation_id = Message.objects.filter(id=message_id).values("conversation_id")[:1]
    earlier = list(
        Message.objects.filter(
            conversation_id=conversation_id,
            direction=Message.Direction.OUTBOUND,
            id__lt=message_id,
        )
        .exclude(provider_message_id="")
        .order_by("id")
        .values_list("provider_message_id", "idempotency_key", "sender__handle", "subject")
    )
    if not earlier:
        return None
    ids = [
        pmid if pmid.startswith("<") else message_id_for(str(key), handle)
        for pmid, key, handle, _ in earlier
    ]
    return ids, earlier[0][3]
