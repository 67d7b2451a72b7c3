"""Amazon SES (API v2) and SNS as they answer and post, for anymail's amazon_ses backend
(boto3, its endpoint_url pointed here through ANYMAIL AMAZON_SES_CLIENT_PARAMS) and webhooks.

- SendEmail: POST /v2/email/outbound-emails, JSON {"FromEmailAddress", "Destination",
  "Content": {"Raw": {"Data": base64}}}, signed with AWS Signature Version 4; answers
  200 {"MessageId"} (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html).
  An access key id that is not the account's answers 403 UnrecognizedClientException, as
  AWS does; the signature itself is checked for its form, not recomputed.
- SNS ConfirmSubscription (the query API, form-encoded, XML answer), which anymail calls
  when a SubscriptionConfirmation arrives with our basic auth
  (https://docs.aws.amazon.com/sns/latest/api/API_ConfirmSubscription.html).
- SNS HTTP notifications (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html):
  the JSON envelope with its x-amz-sns-* headers, first posted without credentials and,
  on the 401 anymail answers, again with the basic auth of the subscription URL. The
  envelope's RSA signature is not made: anymail does not verify it (a "Future" note in its
  Amazon SES webhook view), our basic auth is the check.
- SES event bodies as django-anymail's own Amazon SES webhook tests record them.
"""

import base64
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:SES_Tracking"
CREDENTIAL = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)/\d{8}/[a-z0-9-]+/(\w+)/aws4_request"
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def send(authorization: str, body: dict[str, Any], good_key_id: str) -> tuple[int, dict]:
    found = CREDENTIAL.match(authorization)
    if not found or found.group(1) != good_key_id or "Signature=" not in authorization:
        return 403, {
            "__type": "UnrecognizedClientException",
            "message": "The security token included in the request is invalid.",
        }
    raw = (body.get("Content") or {}).get("Raw", {}).get("Data")
    if not raw:
        return 400, {"__type": "BadRequestException", "message": "Missing content"}
    message_id = f"0100{secrets.token_hex(6)}-{uuid.uuid4()}-000000"
    return 200, {"MessageId": message_id}


def raw_of(body: dict[str, Any]) -> bytes:
    """The RFC 5322 message a SendEmail request carried."""
    return base64.b64decode(body["Content"]["Raw"]["Data"])


def confirm_subscription(form: bytes) -> tuple[dict[str, str], bytes]:
    """The SNS query API's ConfirmSubscription: (the fields it got, the XML answer)."""
    fields = {k: v[0] for k, v in parse_qs(form.decode()).items()}
    arn = f"{fields.get('TopicArn', TOPIC_ARN)}:{uuid.uuid4()}"
    xml = (
        '<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        f"<ConfirmSubscriptionResult><SubscriptionArn>{arn}</SubscriptionArn>"
        "</ConfirmSubscriptionResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</ConfirmSubscriptionResponse>"
    )
    return fields, xml.encode()


def sns_post(kind: str, message: str, **fields: Any) -> tuple[dict[str, str], bytes]:
    """(headers, body) of one SNS HTTP(S) post: "Notification" or "SubscriptionConfirmation"."""
    message_id = str(uuid.uuid4())
    envelope: dict[str, Any] = {
        "Type": kind,
        "MessageId": message_id,
        "TopicArn": TOPIC_ARN,
        "Message": message,
        "Timestamp": _now(),
        "SignatureVersion": "1",
        "Signature": base64.b64encode(secrets.token_bytes(256)).decode(),
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        **fields,
    }
    if kind == "Notification":
        envelope["Subject"] = None
        envelope["UnsubscribeURL"] = (
            "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
            f"&SubscriptionArn={TOPIC_ARN}:{uuid.uuid4()}"
        )
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": kind,
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": TOPIC_ARN,
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    return headers, json.dumps(envelope).encode()


def subscription_confirmation() -> tuple[dict[str, str], bytes]:
    token = secrets.token_hex(64)
    return sns_post(
        "SubscriptionConfirmation",
        f"You have chosen to subscribe to the topic {TOPIC_ARN}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message.",
        Token=token,
        SubscribeURL=(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={TOPIC_ARN}&Token={token}"
        ),
    )


def _mail(message_id: str, recipient: str, source: str) -> dict[str, Any]:
    return {
        "timestamp": _now(),
        "source": source,
        "sourceArn": "arn:aws:ses:us-east-1:111122223333:identity/acme.example",
        "sendingAccountId": "111122223333",
        "messageId": message_id,
        "destination": [recipient],
        "headersTruncated": False,
        "headers": [{"name": "To", "value": recipient}],
        "commonHeaders": {"from": [source], "to": [recipient], "subject": "Quick question"},
    }


def event(kind: str, *, message_id: str, recipient: str, source: str, **detail: Any) -> str:
    """An SES event (configuration-set event publishing) as the SNS Message string:
    "Bounce", "Complaint", "Delivery"."""
    body: dict[str, Any] = {"eventType": kind, "mail": _mail(message_id, recipient, source)}
    if kind == "Bounce":
        body["bounce"] = {
            "bounceType": detail.get("bounce_type", "Permanent"),
            "bounceSubType": detail.get("sub_type", "General"),
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": detail.get("diagnostic", "smtp; 550 5.1.1 user unknown"),
                }
            ],
            "timestamp": _now(),
            "feedbackId": f"0100{secrets.token_hex(6)}-{uuid.uuid4()}-000000",
            "reportingMTA": "dsn; e226-55.smtp-out.us-east-1.amazonses.com",
        }
    elif kind == "Complaint":
        body["complaint"] = {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": _now(),
            "feedbackId": f"0100{secrets.token_hex(6)}-{uuid.uuid4()}-000000",
            "userAgent": "Mozilla/5.0",
            "complaintFeedbackType": "abuse",
            "arrivalDate": _now(),
        }
    elif kind == "Delivery":
        body["delivery"] = {
            "timestamp": _now(),
            "processingTimeMillis": 546,
            "recipients": [recipient],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "e226-55.smtp-out.us-east-1.amazonses.com",
        }
    return json.dumps(body)


def received(raw: bytes, *, recipient: str, source: str) -> str:
    """An inbound mail through a receipt rule's SNS action (BASE64 encoding), as the SNS
    Message string (https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html)."""
    return json.dumps(
        {
            "notificationType": "Received",
            "mail": _mail(secrets.token_hex(20), recipient, source),
            "receipt": {
                "timestamp": _now(),
                "processingTimeMillis": 420,
                "recipients": [recipient],
                "spamVerdict": {"status": "PASS"},
                "virusVerdict": {"status": "PASS"},
                "spfVerdict": {"status": "PASS"},
                "dkimVerdict": {"status": "PASS"},
                "dmarcVerdict": {"status": "PASS"},
                "action": {"type": "SNS", "topicArn": TOPIC_ARN, "encoding": "BASE64"},
            },
            "content": base64.b64encode(raw).decode(),
        }
    )
