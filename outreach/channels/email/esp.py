"""Email through an ESP's HTTP API (Postmark, Mailgun, SendGrid, Brevo, Amazon SES) with
django-anymail's backends, for senders whose SenderAccount.email_esp is set: the sender's
encrypted credentials are the ESP's API key, the API host is the ANYMAIL
`<ESP>_API_URL` setting when one is given (config/settings.py), and the id the ESP answers
is what its tracking webhooks name (deliverability/esp.py), so it is the message's
provider_message_id (docs/deliverability.md#esps)."""

from typing import Any

import requests
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
)
from django.core.mail import EmailMessage, get_connection

from outreach.channels.base import (
    Ambiguous,
    AuthExpired,
    Bounced,
    ChannelError,
    OutgoingMessage,
    Permanent,
    RateLimited,
    Transient,
)

BACKENDS = {
    "postmark": "anymail.backends.postmark.EmailBackend",
    "mailgun": "anymail.backends.mailgun.EmailBackend",
    "sendgrid": "anymail.backends.sendgrid.EmailBackend",
    "brevo": "anymail.backends.brevo.EmailBackend",
    # Through boto3 (SES API v2); region and endpoint: ANYMAIL AMAZON_SES_CLIENT_PARAMS.
    "amazon_ses": "anymail.backends.amazon_ses.EmailBackend",
}


def esp_connection(message: OutgoingMessage):
    """The anymail backend for the sender's ESP, with the sender's own key."""
    backend = BACKENDS.get(message.sender_esp)
    if backend is None:
        raise Permanent(f"unknown ESP {message.sender_esp!r}", code="esp_unknown")
    # Postmark calls its key the server token.
    key = "server_token" if message.sender_esp == "postmark" else "api_key"
    options: dict[str, Any] = {key: message.sender_credentials}
    if message.sender_esp == "amazon_ses":  # credentials: "<access key id>:<secret key>"
        key_id, _, secret = message.sender_credentials.partition(":")
        options = {"session_params": {"aws_access_key_id": key_id, "aws_secret_access_key": secret}}
    try:
        return get_connection(backend, **options)
    except AnymailConfigurationError as exc:  # e.g. a missing setting
        raise esp_refusal(exc) from exc


def esp_message_id(email: EmailMessage) -> str:
    status = getattr(email, "anymail_status", None)
    found = status.message_id if status is not None else None
    if not found:
        raise Ambiguous("the ESP accepted the mail but gave no message id", code="esp_no_id")
    return str(found)


def _boto_answer(exc: Exception) -> int | None:
    """The HTTP status an AWS API answered (anymail's amazon_ses backend wraps botocore's
    ClientError, whose parsed response carries it), or None."""
    response = getattr(exc.__cause__, "response", None)
    if isinstance(exc, AnymailError) and isinstance(response, dict):
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return int(status) if status else None
    return None


def esp_refusal(exc: Exception) -> ChannelError:
    """An ESP's answer as one of our errors (docs/channels.md#normalized-errors)."""
    if isinstance(exc, AnymailRecipientsRefused):
        # The ESP refused the address itself (Postmark 406 inactive, a suppression list).
        return Bounced(f"ESP refused the recipient: {exc}"[:300], code="bounce_esp_refused")
    if isinstance(exc, AnymailConfigurationError):
        return Permanent(f"ESP not usable: {exc}"[:300], code="esp_config")
    if isinstance(exc, AnymailRequestsAPIError) or _boto_answer(exc) is not None:
        status = exc.status_code if isinstance(exc, AnymailRequestsAPIError) else _boto_answer(exc)
        text = f"ESP answered {status}: {exc}"[:300]
        if status is None:
            # No answer: a refused connection never sent it; anything later may have.
            if isinstance(exc, requests.ConnectTimeout | requests.ConnectionError) and not (
                isinstance(exc, requests.ReadTimeout)
            ):
                return Transient(f"ESP unreachable: {exc}"[:300], code="esp_unreachable")
            return Ambiguous(f"ESP: {exc}"[:300], code="esp_no_answer")
        if status in (401, 403):
            return AuthExpired(text)
        if status == 429:
            return RateLimited(text, retry_after=300, code="esp_429")
        if status >= 500:
            return Transient(text, code=f"esp_{status}")
        return Permanent(text, code=f"esp_{status}")
    if isinstance(exc, AnymailError):
        return Permanent(f"ESP: {exc}"[:300], code="esp_error")
    return Ambiguous(f"ESP: {exc}"[:300], code="esp_error")
