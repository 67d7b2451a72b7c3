import itertools
import json
import math
import time
import uuid
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formatdate

from django.conf import settings
from django.db.models import Max
from django.test import override_settings

from contacts.models import Identity
from fakeplatform.meta import meta_signature
from fakeplatform.x import x_signature
from outreach.inbound.process import inbound_event_process
from outreach.models import InboundEvent, Message, SenderAccount
from tests.channels.conftest import ESP_KEY, SECRETS, fixture_bytes


def post_webhook(client, channel: str, body: bytes, headers: dict | None = None):
    return client.post(
        f"/webhooks/{channel}/", data=body, content_type="application/json", headers=headers or {}
    )


def signed_headers(channel: str, body: bytes) -> dict[str, str]:
    if channel in ("messenger", "instagram", "whatsapp"):
        return {"X-Hub-Signature-256": meta_signature(SECRETS["meta"], body)}
    if channel == "x":
        return {"x-twitter-webhooks-signature": x_signature(SECRETS["x"], body)}
    if channel == "telegram":
        return {"X-Telegram-Bot-Api-Secret-Token": SECRETS["telegram"]}
    return {"X-Webhook-Secret": SECRETS["email"]}


def deliver(client, channel: str, payload) -> int:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return post_webhook(client, channel, body, signed_headers(channel, body)).status_code


def process_all() -> list[str]:
    """What the Celery task does for each stored event (workers are tested end to end)."""
    waiting = InboundEvent.objects.filter(processed_at=None, quarantined_at=None)
    ids = waiting.order_by("id").values_list("id", flat=True)
    return [inbound_event_process(event_id=i) for i in ids]


def platform_sender(channel: str, handle: str, credentials: str = "good-token"):
    from tests import factories

    s = factories.sender(f"{channel} sender", channel=channel)
    s.handle, s.credentials = handle, credentials
    s.save(update_fields=["handle", "credentials"])
    return s


# --- a contact replies, as the platform delivers it -------------------------------------------
#
# Each builder below writes one inbound message in its platform's own documented shape (the
# samples in tests/fixtures/platforms/<channel>/ show them). contact_replies() posts it signed
# to the real webhook endpoint and processes the stored event as the worker does, so a reply
# in a test reaches the product the way a real one does.

# The real backends' inbound checks (secrets only: nothing here sends).
RECEIVING = {
    "email": ("outreach.channels.email.backend.EmailChannel", {"webhook_secret": SECRETS["email"]}),
    "telegram": (
        "outreach.channels.telegram.backend.TelegramChannel",
        {"secret_token": SECRETS["telegram"]},
    ),
    "instagram": (
        "outreach.channels.meta.backend.InstagramChannel",
        {"app_secret": SECRETS["meta"]},
    ),
    "messenger": (
        "outreach.channels.meta.backend.MessengerChannel",
        {"app_secret": SECRETS["meta"]},
    ),
    "whatsapp": (
        "outreach.channels.whatsapp.backend.WhatsAppChannel",
        {"app_secret": SECRETS["meta"]},
    ),
    "x": ("outreach.channels.x.backend.XChannel", {"consumer_secret": SECRETS["x"]}),
}
_seq = itertools.count(1)


def email_reply(
    *,
    frm: str,
    to: str,
    text: str,
    subject: str = "Re: Hello",
    in_reply_to: str = "",
    auto_reply: bool = False,
    message_id: str = "",
) -> bytes:
    """A plain-text reply as a mail client writes it (an out-of-office when auto_reply)."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = frm, to, subject
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = message_id or f"<reply-{uuid.uuid4().hex}@example.com>"
    if in_reply_to:
        mail["In-Reply-To"] = mail["References"] = in_reply_to
    if auto_reply:
        mail["Auto-Submitted"] = "auto-replied"
    mail.set_content(text)
    return mail.as_bytes()


def meta_message(*, platform: str, page_id: str, user_id: str, text: str, mid: str = "") -> dict:
    """A Messenger ("page") or Instagram ("instagram") messaging webhook with one text."""
    ms = int(time.time() * 1000)
    return {
        "object": "instagram" if platform == "instagram" else "page",
        "entry": [
            {
                "id": page_id,
                "time": ms,
                "messaging": [
                    {
                        "sender": {"id": user_id},
                        "recipient": {"id": page_id},
                        "timestamp": ms,
                        "message": {"mid": mid or f"m_{uuid.uuid4().hex}", "text": text},
                    }
                ],
            }
        ],
    }


def whatsapp_message(*, phone_number_id: str, wa_id: str, text: str, wamid: str = "") -> dict:
    """A WhatsApp Cloud API "messages" change with one text message."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA_ID",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": phone_number_id},
                            "contacts": [{"profile": {"name": "Lead"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": wamid or f"wamid.{uuid.uuid4().hex}",
                                    "timestamp": str(math.ceil(time.time())),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def telegram_message(*, chat_id: str, username: str, text: str, update_id: int = 0) -> dict:
    """A Telegram Bot API update with a private-chat text message."""
    person = {"id": int(chat_id), "first_name": "Lead", "username": username}
    return {
        "update_id": update_id or 700_000_000 + next(_seq),
        "message": {
            "message_id": next(_seq),
            "from": {**person, "is_bot": False},
            "chat": {**person, "type": "private"},
            "date": math.ceil(time.time()),
            "text": text,
        },
    }


def x_dm(*, account_id: str, user_id: str, text: str, event_id: str = "") -> dict:
    """An X Account Activity API direct_message_events delivery with one DM."""
    return {
        "for_user_id": account_id,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": event_id or str(1_800_000_000_000_000_000 + next(_seq)),
                "created_timestamp": str(int(time.time() * 1000)),
                "message_create": {
                    "target": {"recipient_id": account_id},
                    "sender_id": user_id,
                    "message_data": {"text": text},
                },
            }
        ],
    }


@contextmanager
def receiving(channel: str):
    """The channel's real backend checks webhooks (a test that set it up keeps its own)."""
    backend, options = RECEIVING[channel]
    current = settings.OUTREACH_CHANNELS.get(channel, {})
    if current.get("BACKEND") == backend:
        yield
        return
    channels = {**settings.OUTREACH_CHANNELS, channel: {"BACKEND": backend, "OPTIONS": options}}
    with override_settings(OUTREACH_CHANNELS=channels):
        yield


def platform_user_id(identity: Identity) -> str:
    """The contact's id on the platform, which its webhooks name them by. Our first send (or
    their first message) records it; a test contact made without either gets one now."""
    if not identity.platform_user_id:
        identity.platform_user_id = str(9_000_000 + identity.id)
        identity.save(update_fields=["platform_user_id"])
    return identity.platform_user_id


def reply_payload(identity: Identity, sender: SenderAccount, text: str, *, auto_reply: bool):
    """What the platform would post when this contact writes `text` to this sender."""
    channel = sender.channel
    if channel == "email":
        ours = (
            Message.objects.filter(
                conversation__identity=identity,
                sender=sender,
                direction="out",
                provider_message_id__startswith="<",
            )
            .order_by("-id")
            .values_list("provider_message_id", flat=True)
            .first()
        )
        return email_reply(
            frm=identity.value,
            to=sender.handle,
            text=text,
            in_reply_to=ours or "",
            auto_reply=auto_reply,
        )
    assert not auto_reply, "only mail has auto-replies"
    if channel == "whatsapp" and identity.value.startswith("+"):
        # WhatsApp names the person by their number (wa_id: E.164 without the "+").
        wa_id = identity.platform_user_id or identity.value.lstrip("+")
        return whatsapp_message(phone_number_id=sender.handle, wa_id=wa_id, text=text)
    user = platform_user_id(identity)
    if channel in ("instagram", "messenger"):
        return meta_message(platform=channel, page_id=sender.handle, user_id=user, text=text)
    if channel == "whatsapp":
        return whatsapp_message(phone_number_id=sender.handle, wa_id=user, text=text)
    if channel == "telegram":
        return telegram_message(chat_id=user, username=identity.value, text=text)
    if channel == "x":
        return x_dm(account_id=sender.handle, user_id=user, text=text)
    raise ValueError(f"no webhook on {channel}")


def contact_replies(
    client, contact, sender: SenderAccount, text: str, *, auto_reply: bool = False
) -> Message:
    """`contact` writes `text` to `sender` on the sender's channel: the platform's webhook
    body, signed, posted to our endpoint, then the stored event processed as the worker
    does. Returns the inbound message the product recorded."""
    identity = Identity.objects.get(contact=contact, channel=sender.channel)
    before = Message.objects.filter(direction="in").aggregate(m=Max("id"))["m"] or 0
    with receiving(sender.channel):
        payload = reply_payload(identity, sender, text, auto_reply=auto_reply)
        assert deliver(client, sender.channel, payload) == 200
        outcomes = process_all()
    assert outcomes and set(outcomes) <= {"reply", "auto_reply", "opt_out"}, outcomes
    return Message.objects.filter(direction="in", id__gt=before).get()


# --- email: our sent mail, the mailbox it is answered in, and mail that comes back -----------

MAILBOX, PASSWORD = "anna@acme.example", "imap-pass"


def fake_mailbox(server, address: str = MAILBOX, password: str = PASSWORD, uidvalidity: int = 7):
    """The fake IMAP server (fakeplatform.imap) emptied, holding one account's INBOX."""
    state = server.state
    state.mailboxes.clear()
    state.drop_after_fetches, state.fetched = None, 0
    state.add_user(address, password, uidvalidity=uidvalidity)
    return server


def mailbox_sender(server, address: str = MAILBOX, password: str = PASSWORD) -> SenderAccount:
    """An email sender whose replies are polled from `address` on the fake IMAP server."""
    sender = platform_sender("email", address, credentials=password)
    sender.imap_host, sender.imap_port, sender.imap_tls = server.host, server.port, False
    sender.save(update_fields=["imap_host", "imap_port", "imap_tls"])
    return sender


def email_lead(sender: SenderAccount):
    """lead1@example.com in a running two-step email sequence of `sender`: (conversation,
    enrollment), nothing sent yet."""
    from campaigns.models import Enrollment
    from outreach.sending.create import conversations_for
    from tests import factories

    contact = factories.contact(1, channels=("email",))
    identity = contact.identities.get()
    conv = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    camp = factories.campaign(senders=[sender], steps=(("email", 0), ("email", 60)))
    enrollment = Enrollment.objects.create(campaign=camp, contact=contact, state="active")
    return conv, enrollment


def esp_sender(esp: str, handle: str = "anna@acme.example", credentials: str = ESP_KEY):
    """An email sender who sends through the ESP `esp` (the fake ESP's, see the `esp` fixture)."""
    sender = platform_sender("email", handle, credentials=credentials)
    sender.email_esp = esp
    sender.save(update_fields=["email_esp"])
    return sender


def esp_lead(esp: str, credentials: str = ESP_KEY):
    """email_lead() of anna@acme.example sending through the ESP `esp`."""
    return email_lead(esp_sender(esp, credentials=credentials))


def email_sent(conv, subject: str = "Quick question", body: str = "Hi Lead1", **fields) -> Message:
    """Our email in this conversation, sent through the email backend: it has our
    Message-ID (provider_message_id) that replies and bounces refer to."""
    from outreach.sending.create import messages_create
    from outreach.sending.deliver import message_send

    [message] = messages_create(
        [
            Message(
                conversation=conv,
                sender=conv.sender,
                channel="email",
                direction="out",
                status="queued",
                subject=subject,
                body=body,
                **fields,
            )
        ]
    )
    assert message_send(message_id=message.id) == "sent"
    message.refresh_from_db()
    return message


def reply_by_references(our_id: str) -> bytes:
    """A real Hotmail reply, subject changed, threaded only by References."""
    raw = fixture_bytes("email", "reply_hotmail_RE_quoted.eml")
    raw = raw.replace(b"Subject: RE: Test", b"Subject: Different topic")
    raw = raw.replace(b"From: Alexey Q <xxx@hotmail.com>", b"From: Lead One <lead1@example.com>")
    return raw.replace(
        b"Message-Id:", f"References: <unrelated@else.example> {our_id}\nMessage-Id:".encode(), 1
    )


def out_of_office(our_id: str) -> bytes:
    """A real Apple Mail vacation reply, In-Reply-To our message."""
    raw = fixture_bytes("email", "ooo_apple_vacation_with_in_reply_to.eml")
    return raw.replace(b"<25203A4E-F90F-4A14-BF51-3E7B9D39BE8E@libsisimai.org>", our_id.encode())


def hard_bounce(recipient: str = "lead1@example.com", returned_id: str = "") -> bytes:
    """A real Postfix 5.1.1 report for `recipient`, returning a message with this Message-ID
    (none: the original's headers without one). Each (recipient, id) its own report id."""
    dsn = fixture_bytes("email", "bounce_hard_5.1.1_postfix_alias_expanded.eml")
    dsn = dsn.replace(b"kijitora@example.org", recipient.encode())
    dsn = dsn.replace(b"<20130429234532.", f"<{abs(hash((recipient, returned_id)))}.".encode())
    header = f"Message-ID: {returned_id}\n" if returned_id else ""
    return dsn + f"{header}Subject: Quick question\n\nHi Lead1\n".encode()
