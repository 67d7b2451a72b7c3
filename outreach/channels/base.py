from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit


class ChannelError(Exception):
    """A send failed. Subclasses say what the engine should do about it."""

    code = "error"

    def __init__(self, reason: str, *, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        if code:
            self.code = code


class RateLimited(ChannelError):
    """The platform said "slow down". Definitely not sent; wait `retry_after` seconds."""

    code = "rate_limited"

    def __init__(self, reason: str, *, retry_after: float = 60.0, code: str = "") -> None:
        super().__init__(reason, code=code)
        self.retry_after = retry_after


class RecipientLimited(RateLimited):
    """The platform holds back messages to this one recipient for a while (WhatsApp 131049):
    not the sender's fault, so only this message waits `retry_after` seconds; a second
    refusal of the same kind fails it (outreach/sending/deliver.py)."""

    code = "recipient_limited"


class Transient(ChannelError):
    """Definitely not sent (refused before the request went out, or a documented non-creating
    error); safe to retry later."""

    code = "transient"


class Ambiguous(ChannelError):
    """The request may have reached the platform (timeout after sending, 5xx). Never resend
    blindly: the reconciler decides."""

    code = "ambiguous"


class Permanent(ChannelError):
    code = "permanent"


class RecipientUnreachable(Permanent):
    code = "recipient_unreachable"


class Bounced(RecipientUnreachable):
    """The recipient's server refused the address itself at send time (an SMTP 5xx answer to
    RCPT): a hard bounce, known then and there."""

    code = "bounced"


class PolicyWindowClosed(Permanent):
    code = "policy_window_closed"


class AuthExpired(ChannelError):
    code = "auth_expired"


@dataclass
class OutgoingMessage:
    """What a backend needs to send one message; no ORM objects cross this line."""

    message_id: int
    idempotency_key: str
    channel: str
    sender_handle: str
    sender_credentials: str
    recipient: str
    recipient_platform_id: str
    body: str
    subject: str = ""
    body_html: str = ""  # email only: sent as the text/html alternative of body
    attachments: list[dict[str, Any]] = field(default_factory=list)
    # Platform context the send itself needs (private reply, HUMAN_AGENT tag, X's 403s).
    last_inbound_at: datetime | None = None
    comment_id: str = ""
    comment_at: datetime | None = None
    human_written: bool = False
    # When this attempt was claimed: a lookup searches the platform's history from here.
    claimed_at: datetime | None = None
    # A public reply under this comment (Instagram/Facebook), not a message to the person.
    public_reply_to: str = ""
    # Email: the ESP the sender sends through ("" = SMTP), SenderAccount.email_esp.
    sender_esp: str = ""


@dataclass
class PolicyContext:
    """What a platform's rules need to know before a send: who spoke last, and when."""

    channel: str
    now: datetime
    recipient: str
    recipient_platform_id: str
    last_inbound_at: datetime | None
    human_written: bool = False
    attachments: list[dict[str, Any]] = field(default_factory=list)
    # An unanswered comment by the contact (Instagram/Messenger private reply), and when.
    comment_id: str = ""
    comment_at: datetime | None = None
    public_reply_to: str = ""
    # Meta handover protocol: the app that owns the thread ("" = ours).
    thread_owner: str = ""


@dataclass
class PolicyDecision:
    allowed: bool
    reason: str = ""
    # When not allowed: retry at this time (the message waits), or None (it can never go).
    retry_at: datetime | None = None


ALLOWED = PolicyDecision(allowed=True)


@dataclass
class InboundItem:
    """One normalized event out of a webhook body or a mailbox; stored raw, processed later."""

    # message | auto_reply | bounce | echo | sent | delivered | read | failed | start | blocked |
    # comment | referral | number_changed | reaction | deleted | edited | handover | unknown |
    # ignored (stored only if it has an event id). reaction, deleted, edited and handover are
    # never a reply; unknown is a kind we do not handle yet: stored and logged, nothing else.
    kind: str
    event_id: str  # the platform's id: unique per provider, the dedupe key
    account_id: str = ""  # our side: page id, phone_number_id, X user id, bot, mailbox
    from_id: str = ""  # the contact's platform id (PSID, IGSID, wa_id, X id, chat id)
    from_handle: str = ""  # username, phone number or email address, when known
    name: str = ""
    text: str = ""
    refers_to: list[str] = field(default_factory=list)  # our provider ids it answers/reports on
    # Our idempotency key echoed back by the platform (WhatsApp biz_opaque_callback_data): it
    # settles a send whose answer was lost.
    callback_key: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    error_code: str = ""
    error: str = ""
    start_token: str = ""  # Telegram deep-link payload
    hard: bool = False  # bounces: permanent (5.x.x) or not
    occurred_at: float | None = None  # epoch seconds
    watermark: float | None = None  # Messenger receipts: everything up to here
    # X read receipts: refers_to[0] and every earlier message of its conversation.
    read_through: bool = False
    new_id: str = ""  # WhatsApp number_changed: the person's new wa_id (from_id is the old)
    # Entry-trigger context: the post a comment is under, a story reply/mention, an ad click.
    post_id: str = ""
    subtype: str = ""  # "story_reply" | "story_mention" | ""
    referral: dict[str, Any] = field(default_factory=dict)  # {"ref", "source", "ad_id", ...}
    # Email: every address it was delivered to (Delivered-To, To, Cc), and the From name.
    recipients: list[str] = field(default_factory=list)
    from_name: str = ""
    # Email bounces and complaints: every address the report names (from_handle is the first).
    failed_recipients: list[str] = field(default_factory=list)
    # The platform's id of the message this event is (message) or acts on (edited, deleted,
    # reaction): Meta mid, WhatsApp wamid, X DM event id, an email's Message-ID, Telegram
    # "<chat id>:<message id>" as we store ours (unique per conversation: models.py
    # CONVERSATION_SCOPED_IDS).
    message_id: str = ""
    # What the contact chose: {"button": id, "title"?} (quick reply, postback, interactive
    # reply, Telegram callback data), {"story": {"id", "url"}} (Instagram story reply).
    payload: dict[str, Any] = field(default_factory=dict)
    callback_query_id: str = ""  # Telegram: answered with answerCallbackQuery
    # Meta handover: "standby" (another app owns the thread; the message is still a reply),
    # "pass" (ownership passed to thread_owner), "take" (taken by it), "request" (asked for).
    handover: str = ""
    thread_owner: str = ""  # the owning app's id after a handover ("" = ours)
    emoji: str = ""  # reaction: the emoji ("" and action "unreact": taken back)
    action: str = ""  # reaction: "react" | "unreact"


@dataclass
class MediaSource:
    """Where an inbound attachment's bytes are downloaded from, and what the platform said
    about them before the download (size and type, when it says)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    size: int = 0  # 0: not said
    content_type: str = ""
    name: str = ""


@dataclass
class LookupResult:
    found: bool | None  # None: the platform cannot tell us
    provider_message_id: str = ""


class BaseChannel:
    """Subclasses must override send(). Everything else has a safe default."""

    automated = True
    # Each sender has its own webhook URL (/webhooks/<channel>/<sender>/): the platform's
    # events do not say which of our accounts they were sent to (Telegram bots).
    account_webhooks = False

    def __init__(self, *, channel: str, **options: Any) -> None:
        self.channel = channel
        self.options = options

    def send(self, message: OutgoingMessage) -> str:
        """Send one message and return the platform's message id, or raise a ChannelError."""
        raise NotImplementedError("subclasses of BaseChannel must override send()")

    def check_policy(self, context: PolicyContext) -> PolicyDecision:
        """The platform's rules (messaging windows, templates, "user must write first")."""
        return ALLOWED

    def lookup(self, message: OutgoingMessage) -> LookupResult:
        """Did an earlier, ambiguous attempt arrive? Used by the reconciler."""
        return LookupResult(found=None)

    # --- inbound (webhooks) ---------------------------------------------------------

    def handshake(self, query: Mapping[str, str]) -> tuple[int, str, str] | None:
        """Answer a setup challenge (Meta hub.challenge, X CRC) as (status, body, content
        type), or None when the GET is not one."""
        return None

    def verify_headers(self, headers: Mapping[str, str]) -> bool:
        """Checked before the body is read: False refuses the request unread. Channels that
        authenticate with a shared-secret header check it here, so an unsigned request
        cannot make us read a large body; channels that sign the body pass."""
        return True

    def verify_signature(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Is this webhook body really from the platform? Default deny."""
        return False

    def parse_webhook(self, body: bytes) -> list[InboundItem]:
        raise NotImplementedError(f"{type(self).__name__} takes no webhooks")

    def answer_callback(self, *, credentials: str, callback_query_id: str) -> None:
        """Acknowledge a pressed button (InboundItem.callback_query_id), on platforms that
        wait for it (Telegram); others have nothing to answer."""

    # --- inbound media (outreach/inbound_media.py) -------------------------------------

    # Hosts (and their subdomains) the platform serves media from; the backend's own API
    # host always counts. Nothing is downloaded from, and no token sent to, any other host.
    media_hosts: tuple[str, ...] = ()

    def media_source(self, *, credentials: str, attachment: dict[str, Any]) -> MediaSource | None:
        """Where to download one inbound attachment from (asking the platform first where
        its API wants that), or None when this backend cannot fetch it. Raises ChannelError
        when the platform refuses or fails."""
        return None

    def media_host_allowed(self, host: str) -> bool:
        api = urlsplit(str(getattr(self, "base_url", ""))).hostname or ""
        host = host.lower()
        return bool(host) and (
            host == api or any(host == h or host.endswith(f".{h}") for h in self.media_hosts)
        )
