"""X API v2 direct messages (docs/channels.md#x).

X's rules allow a DM only after the user has written to the sender, so the policy gate
holds every message until an inbound DM opened the conversation.
"""

import json
import re
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from outreach import policy
from outreach.channels import http
from outreach.channels.base import (
    ALLOWED,
    Ambiguous,
    AuthExpired,
    BaseChannel,
    ChannelError,
    InboundItem,
    LookupResult,
    OutgoingMessage,
    Permanent,
    PolicyContext,
    PolicyDecision,
    PolicyWindowClosed,
    RateLimited,
    RecipientUnreachable,
)
from outreach.channels.meta.backend import unknown_item

URL = re.compile(r"https?://\S+")
FIELDS = "id,text,event_type,sender_id,created_at,dm_conversation_id,attachments"
POLL_PAGES = 10  # at most 1,000 events per poll; the cursor keeps the rest for next time
# A poll's first page holds the newest events, old ones included (X bills each one read).
POLL_PAGE_SIZE = 100
# How far back of a claim an event can be stamped (clock skew between us and X).
SKEW = timedelta(seconds=30)
# X signs a CRC token and a webhook body with the same HMAC, so answering any token would sign
# any forged body. X's tokens are short random strings (UUID- or base64-like); nothing of
# this shape can be a JSON body, which needs a "{" (parse_webhook reads an object).
CRC_TOKEN = re.compile(r"[A-Za-z0-9_\-=+/.&]{1,128}")
# Account Activity keys parse_webhook reads (or, for typing indicators, knowingly drops).
X_HANDLED = {
    "for_user_id",
    "users",
    "apps",
    "user_has_blocked",
    "direct_message_events",
    "direct_message_mark_read_events",
    "direct_message_indicate_typing_events",
}


def _same_text(ours: str, theirs: str) -> bool:
    """X shortens every link to t.co, so texts compare with their links blanked."""
    return URL.sub("<link>", ours).strip() == URL.sub("<link>", theirs).strip()


def _created(event: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


def x_error(response: httpx.Response, *, had_written: bool) -> ChannelError:
    data = http.json_or_empty(response)
    detail = data.get("detail") or data.get("title") or ""
    if not detail and data.get("errors"):
        detail = data["errors"][0].get("message", "")
    text = f"{response.status_code} {detail or response.text[:200]}"
    tag = f"x_{response.status_code}"
    status = response.status_code
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset")
        wait = max(float(reset) - time.time(), 1.0) if reset else 900.0
        return RateLimited(text, retry_after=wait, code=tag)
    if status == 401:
        return AuthExpired(text, code=tag)
    if status == 403 and "attach" in detail.lower():
        return Permanent(text, code=tag)
    if status == 403:
        # A user who wrote to us and now refuses DMs closed them or blocked us.
        cls = RecipientUnreachable if had_written else PolicyWindowClosed
        return cls(text, code=tag)
    if status == 404:
        return RecipientUnreachable(text, code=tag)
    if status >= 500:
        return Ambiguous(text, code=tag)
    return Permanent(text, code=tag)


class XChannel(BaseChannel):
    def __init__(self, *, channel: str, **options: Any) -> None:
        super().__init__(channel=channel, **options)
        self.base_url = (options.get("base_url") or "https://api.x.com").rstrip("/")
        self.consumer_secret = options.get("consumer_secret", "")
        self.timeout = float(options.get("timeout", 10.0))
        # Without the enterprise Account Activity API, replies come by polling (billed per
        # event read, so it is opt-in: OPTIONS {"poll": true}).
        self.polls = bool(options.get("poll", False))

    def check_policy(self, context: PolicyContext) -> PolicyDecision:
        if context.last_inbound_at is not None:
            return ALLOWED
        return policy.hold("X allows a DM only after the contact has written to you", context.now)

    def send(self, message: OutgoingMessage) -> str:
        body: dict[str, Any] = {"text": message.body} if message.body else {}
        media = [a["media_id"] for a in message.attachments if a.get("media_id")]
        if media:
            body["attachments"] = [{"media_id": media[0]}]  # X takes one per DM
        elif any(a.get("url") for a in message.attachments):
            body["text"] = self._text(message)
        participant = message.recipient_platform_id or message.recipient
        r = http.request(
            "POST",
            f"{self.base_url}/2/dm_conversations/with/{participant}/messages",
            headers={"Authorization": f"Bearer {message.sender_credentials}"},
            json=body,
            timeout=self.timeout,
        )
        if r.status_code in (200, 201):
            return str(r.json()["data"]["dm_event_id"])
        raise x_error(r, had_written=message.last_inbound_at is not None)

    def lookup(self, message: OutgoingMessage) -> LookupResult:
        """Did a send whose answer was lost arrive? X takes no idempotency key, so look for
        our text in the conversation's history since the claim."""
        if message.claimed_at is None:
            return LookupResult(found=None)
        participant = message.recipient_platform_id or message.recipient
        text = self._text(message)
        since = message.claimed_at - SKEW
        try:
            r = http.request(
                "GET",
                f"{self.base_url}/2/dm_conversations/with/{participant}/dm_events",
                headers={"Authorization": f"Bearer {message.sender_credentials}"},
                params={"dm_event.fields": FIELDS, "event_types": "MessageCreate"},
                timeout=self.timeout,
            )
        except ChannelError:
            return LookupResult(found=None)
        if r.status_code != 200:
            return LookupResult(found=None)
        data = http.json_or_empty(r)
        events = data.get("data") or []
        for event in events:  # newest first
            at = _created(event)
            if at is not None and at < since:
                # Everything since the claim was on this page, and ours is not there.
                return LookupResult(found=False)
            if str(event.get("sender_id")) == message.sender_handle and _same_text(
                text, str(event.get("text", ""))
            ):
                return LookupResult(found=True, provider_message_id=str(event["id"]))
        if not (data.get("meta") or {}).get("next_token"):
            return LookupResult(found=False)  # the whole history, and ours is not in it
        return LookupResult(found=None)  # a busy conversation: more pages than we read

    @staticmethod
    def _text(message: OutgoingMessage) -> str:
        if any(a.get("media_id") for a in message.attachments):
            return message.body
        links = [a["url"] for a in message.attachments if a.get("url")]
        return " ".join([message.body, *links]).strip()

    # --- inbound (polling fallback: GET /2/dm_events) ---------------------------------

    def poll(self, *, account: str, credentials: str, after: int) -> tuple[list[InboundItem], int]:
        """DM events newer than event id `after` (ids grow with time), oldest first, and the
        newest id seen. The items are the same as the webhook's, so both dedupe together."""
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "dm_event.fields": FIELDS,
            "event_types": "MessageCreate",
            "max_results": POLL_PAGE_SIZE,
        }
        for _ in range(POLL_PAGES):
            r = http.request(
                "GET",
                f"{self.base_url}/2/dm_events",
                headers={"Authorization": f"Bearer {credentials}"},
                params=params,
                timeout=self.timeout,
            )
            if r.status_code != 200:
                raise x_error(r, had_written=True)
            data = http.json_or_empty(r)
            page = data.get("data") or []
            events += [e for e in page if int(e["id"]) > after]
            token = (data.get("meta") or {}).get("next_token")
            if not token or any(int(e["id"]) <= after for e in page):
                break
            params["pagination_token"] = token
        items = []
        for event in sorted(events, key=lambda e: int(e["id"])):
            if str(event.get("sender_id")) == account:
                items.append(InboundItem(kind="echo", event_id=f"echo:{event['id']}"))
                continue
            at = _created(event)
            items.append(
                InboundItem(
                    kind="message",
                    event_id=str(event["id"]),
                    message_id=str(event["id"]),
                    account_id=account,
                    from_id=str(event.get("sender_id", "")),
                    text=str(event.get("text", "")),
                    occurred_at=at.timestamp() if at else None,
                )
            )
        newest = max([after, *(int(e["id"]) for e in events)])
        return items, newest

    # --- inbound (Account Activity API) -----------------------------------------------

    def handshake(self, query: Mapping[str, str]) -> tuple[int, str, str] | None:
        token = query.get("crc_token")
        if token is None:
            return None
        if not CRC_TOKEN.fullmatch(token):
            return 400, "crc_token is not shaped like one of X's", "text/plain"
        answer = {"response_token": "sha256=" + http.hmac_b64(self.consumer_secret, token.encode())}
        return 200, json.dumps(answer), "application/json"

    def verify_signature(self, headers: Mapping[str, str], body: bytes) -> bool:
        given = headers.get("x-twitter-webhooks-signature", "")
        return bool(self.consumer_secret) and http.same(
            given, "sha256=" + http.hmac_b64(self.consumer_secret, body)
        )

    def parse_webhook(self, body: bytes) -> list[InboundItem]:
        data = json.loads(body)
        ours = str(data.get("for_user_id", ""))
        users = data.get("users") or {}
        items = []
        for event in data.get("direct_message_events") or []:
            create = event.get("message_create") or {}
            sender = str(create.get("sender_id", ""))
            ts = event.get("created_timestamp")
            if sender == ours:
                items.append(InboundItem(kind="echo", event_id=f"echo:{event.get('id')}"))
                continue
            content = create.get("message_data") or {}
            media = (content.get("attachment") or {}).get("media") or {}
            # X's DM events name no message they answer; a quick reply option's metadata is
            # the one choice they carry (developer.x.com "Message Create Object").
            choice = (content.get("quick_reply_response") or {}).get("metadata")
            items.append(
                InboundItem(
                    kind="message",
                    event_id=str(event.get("id")),
                    message_id=str(event.get("id")),
                    account_id=ours,
                    from_id=sender,
                    from_handle=(users.get(sender) or {}).get("screen_name", ""),
                    name=(users.get(sender) or {}).get("name", ""),
                    text=content.get("text", ""),
                    payload={"button": str(choice)} if choice else {},
                    attachments=[
                        {"type": media.get("type", "file"), "url": media["media_url_https"]}
                    ]
                    if media.get("media_url_https")
                    else [],
                    occurred_at=int(ts) / 1000 if ts else None,
                )
            )
        for event in data.get("direct_message_mark_read_events") or []:
            last = str(event.get("last_read_event_id", ""))
            reader = str((event.get("sender_id")) or "")
            if reader == ours:
                continue  # our own account read the conversation: the contact read nothing
            items.append(
                InboundItem(
                    kind="read",
                    event_id=f"read:{reader}:{last}",
                    account_id=ours,
                    from_id=reader,
                    refers_to=[last],
                    read_through=True,
                )
            )
        # Other Account Activity kinds (follows, likes, mentions, a revoked app): stored and
        # logged, never dropped unseen. Typing indicators are only noise.
        for key in sorted(set(data) - X_HANDLED):
            items.append(unknown_item(ours, "", {"field": key, key: data[key]}))
        return items
