from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PolicyContext:
    """What a platform's rules need to know before a send: who spoke last, and when."""

    channel: str
    now: datetime
    recipient: str
    recipient_platform_id: str
    last_inbound_at: datetime | None
    human_written: bool = False


@dataclass
class PolicyDecision:
    allowed: bool
    reason: str = ""
    # When not allowed: retry at this time (the message waits), or None (it can never go).
    retry_at: datetime | None = None


ALLOWED = PolicyDecision(allowed=True)


@dataclass
class LookupResult:
    found: bool | None  # None: the platform cannot tell us
    provider_message_id: str = ""


class BaseChannel:
    """Subclasses must override send(). Everything else has a safe default."""

    automated = True

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
