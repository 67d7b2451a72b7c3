"""Instagram and Facebook Messenger through Meta's Graph Send API
(docs/channels.md#instagram-and-messenger).

Both are user-initiated: a message goes inside the 24 h window after the contact's last
message, as a HUMAN_AGENT-tagged reply a human wrote (7 days), or as the one private reply
to a comment (7 days). Webhooks are signed with X-Hub-Signature-256 over the raw body.
"""

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import httpx
from django.utils import timezone

from outreach import policy
from outreach.channels import http
from outreach.channels.base import (
    ALLOWED,
    Ambiguous,
    AuthExpired,
    BaseChannel,
    ChannelError,
    InboundItem,
    MediaSource,
    OutgoingMessage,
    Permanent,
    PolicyContext,
    PolicyDecision,
    PolicyWindowClosed,
    RateLimited,
    RecipientUnreachable,
    Transient,
)

THROTTLED = {4, 9, 17, 32, 613}
WINDOW_SUBCODES = {2018278, 2018065, 2534022}


def _media_type(kind: str) -> str:
    return {"gif": "image", "voice": "audio"}.get(kind, kind)


def meta_error(response: httpx.Response) -> ChannelError:
    """Map a Graph error body to the engine's normalized error
    (docs/channels.md#normalized-errors)."""
    err = http.json_or_empty(response).get("error") or {}
    code, sub = err.get("code"), err.get("error_subcode")
    text = f"{err.get('message') or response.text[:200]} (code {code}/{sub})"
    tag = f"meta_{code}" + (f"_{sub}" if sub else "")
    if code == 190:
        return AuthExpired(text, code=tag)
    if code in THROTTLED or (isinstance(code, int) and 80000 <= code < 80100):
        return RateLimited(text, retry_after=_regain_seconds(response), code=tag)
    if code == 551 or (code == 100 and sub == 2018001):
        return RecipientUnreachable(text, code=tag)
    if code == 10 and sub in WINDOW_SUBCODES:
        return PolicyWindowClosed(text, code=tag)
    if code in (2, 1200):
        return Transient(text, code=tag)  # documented "try again later": nothing was created
    if response.status_code >= 500:
        return Ambiguous(text, code=tag)
    return Permanent(text, code=tag)


def _regain_seconds(response: httpx.Response) -> float:
    """Business Use Case throttles say when access comes back, in minutes."""
    try:
        usage = json.loads(response.headers.get("X-Business-Use-Case-Usage", "{}"))
        minutes = max(
            entry.get("estimated_time_to_regain_access", 0)
            for entries in usage.values()
            for entry in entries
        )
    except (ValueError, AttributeError, TypeError):
        minutes = 0
    return float(minutes * 60) if minutes else 60.0


class MetaChannel(BaseChannel):
    default_base_url = "https://graph.facebook.com"
    webhook_object = "page"

    def __init__(self, *, channel: str, **options: Any) -> None:
        super().__init__(channel=channel, **options)
        self.base_url = (options.get("base_url") or self.default_base_url).rstrip("/")
        self.api_version = options.get("api_version", "v25.0")
        self.app_secret = options.get("app_secret", "")
        self.verify_token = options.get("verify_token", "")
        self.timeout = float(options.get("timeout", 10.0))

    # Meta's CDNs: lookaside.fbsbx.com (Messenger/Instagram attachments, WhatsApp media),
    # *.fbcdn.net and *.cdninstagram.com (images, videos, shares and stories).
    media_hosts = ("fbsbx.com", "fbcdn.net", "cdninstagram.com", "whatsapp.net")

    def media_source(self, *, credentials: str, attachment: dict[str, Any]) -> MediaSource | None:
        """Messenger and Instagram put a signed CDN link in the webhook's attachment payload;
        it needs no token (the page token is never sent to a CDN), only to be fetched
        before it expires."""
        url = attachment.get("url")
        return MediaSource(url=str(url)) if url else None

    # --- sending ---------------------------------------------------------------------

    def check_policy(self, context: PolicyContext) -> PolicyDecision:
        if context.public_reply_to:
            return ALLOWED  # a public comment reply is not a message: no messaging window
        held = policy.thread_owned_elsewhere(
            context.thread_owner, context.human_written, context.now
        )
        if held is not None:
            return held
        route = policy.meta_route(
            now=context.now,
            last_inbound_at=context.last_inbound_at,
            comment_id=context.comment_id,
            comment_at=context.comment_at,
            human_written=context.human_written,
        )
        if route:
            return ALLOWED
        return policy.hold(
            "the contact has not written in the last 24 h (Meta allows replies only)",
            context.now,
        )

    def send(self, message: OutgoingMessage) -> str:
        if message.public_reply_to:
            return self.comment_reply(message)
        route = policy.meta_route(
            now=timezone.now(),
            last_inbound_at=message.last_inbound_at,
            comment_id=message.comment_id,
            comment_at=message.comment_at,
            human_written=message.human_written,
        )
        parts = self.payloads(message, route or "response")
        first = ""
        for n, payload in enumerate(parts):
            try:
                mid = self._post(message, payload)
            except ChannelError as exc:
                if n == 0:
                    raise
                raise Ambiguous(f"partly sent ({n} of {len(parts)} parts): {exc.reason}") from exc
            first = first or mid
        return first

    def payloads(self, message: OutgoingMessage, route: str) -> list[dict[str, Any]]:
        """One request per part: Meta takes text or one attachment per message."""
        if route == "private_reply":
            recipient: dict[str, str] = {"comment_id": message.comment_id}
        else:
            recipient = {"id": message.recipient_platform_id or message.recipient}
        envelope: dict[str, Any] = {"recipient": recipient}
        if route == "human_agent":
            envelope |= {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        elif route == "response" and self.webhook_object == "page":
            envelope |= {"messaging_type": "RESPONSE"}
        parts = []
        if message.body:
            parts.append(envelope | {"message": {"text": message.body}})
        for a in message.attachments:
            if a.get("type") == "template" or not a.get("url"):
                continue
            attachment = {"type": _media_type(a["type"]), "payload": {"url": a["url"]}}
            parts.append(envelope | {"message": {"attachment": attachment}})
        if route == "private_reply":
            parts = parts[:1]  # exactly one message per comment
        if parts and self.webhook_object == "page":
            # Messenger returns message.metadata in the message_echoes webhook; on the last
            # part it says "the whole message went out", which settles a send whose answer
            # was lost (Instagram's API takes no metadata).
            parts[-1]["message"]["metadata"] = message.idempotency_key
        return parts

    def _post(self, message: OutgoingMessage, payload: dict[str, Any]) -> str:
        account = message.sender_handle or "me"
        r = http.request(
            "POST",
            f"{self.base_url}/{self.api_version}/{account}/messages",
            params={"access_token": message.sender_credentials},
            json=payload,
            timeout=self.timeout,
        )
        if r.status_code == 200:
            return str(r.json()["message_id"])
        raise meta_error(r)

    # A Facebook Page answers a comment with POST /{comment-id}/comments (message in the
    # form body); Instagram with POST /{ig-comment-id}/replies?message=… (in the query, as
    # documented). Both answer {"id": "<our new comment's id>"}.
    comment_edge = "comments"

    def comment_reply(self, message: OutgoingMessage) -> str:
        """One public reply under the comment (text only), posted as the account."""
        token, text = {"access_token": message.sender_credentials}, {"message": message.body}
        if self.comment_edge == "replies":
            where: dict[str, Any] = {"params": text | token}
        else:
            where = {"params": token, "data": text}
        r = http.request(
            "POST",
            f"{self.base_url}/{self.api_version}/{message.public_reply_to}/{self.comment_edge}",
            timeout=self.timeout,
            **where,
        )
        if r.status_code == 200:
            return str(r.json()["id"])
        raise meta_error(r)

    # --- inbound ---------------------------------------------------------------------

    def handshake(self, query: Mapping[str, str]) -> tuple[int, str, str] | None:
        if "hub.mode" not in query:
            return None
        if query.get("hub.mode") == "subscribe" and http.same(
            query.get("hub.verify_token", ""), self.verify_token
        ):
            return 200, query.get("hub.challenge", ""), "text/plain"
        return 403, "verify token mismatch", "text/plain"

    def verify_signature(self, headers: Mapping[str, str], body: bytes) -> bool:
        given = headers.get("X-Hub-Signature-256", "")
        return bool(self.app_secret) and http.same(
            given, "sha256=" + http.hmac_hex(self.app_secret, body)
        )

    def parse_webhook(self, body: bytes) -> list[InboundItem]:
        data = json.loads(body)
        items = []
        for entry in data.get("entry") or []:
            account = str(entry.get("id", ""))
            for event in entry.get("messaging") or []:
                items.append(self._messaging_item(account, event))
            # Handover protocol: another app owns these threads and we only listen. The
            # person's messages are still replies to us; we must not write into the thread.
            for event in entry.get("standby") or []:
                item = self._messaging_item(account, event)
                if item.kind in ("message", "unknown"):
                    item = dataclasses.replace(item, handover="standby")
                items.append(item)
            # A change entry's "time" (Unix seconds) is when the comment was written: a late
            # delivery must not look fresh to the 7-day private-reply rule.
            at = entry.get("time")
            at = float(at) if isinstance(at, int | float) else None
            for change in entry.get("changes") or []:
                items.append(self._change_item(account, change, at))
        return items

    def _messaging_item(self, account: str, event: dict[str, Any]) -> InboundItem:
        user = str((event.get("sender") or {}).get("id", ""))
        ts = event.get("timestamp")
        at = ts / 1000 if isinstance(ts, int | float) else None
        msg = event.get("message")
        if msg is not None:
            if msg.get("is_echo"):
                return InboundItem(
                    kind="echo",
                    event_id=f"echo:{msg.get('mid')}",
                    account_id=account,
                    refers_to=[str(msg.get("mid"))],
                    callback_key=str(msg.get("metadata") or "")[:64],
                )
            if msg.get("is_deleted"):
                # The person unsent a message: its stored text is redacted, the fact kept.
                return InboundItem(
                    kind="deleted",
                    event_id=f"deleted:{msg.get('mid')}",
                    account_id=account,
                    from_id=user,
                    message_id=str(msg.get("mid")),
                    occurred_at=at,
                )
            reply_to = msg.get("reply_to") or {}
            attachments = [
                {"type": a.get("type", ""), "url": (a.get("payload") or {}).get("url", "")}
                for a in msg.get("attachments") or []
            ]
            payload: dict[str, Any] = {}
            quick = (msg.get("quick_reply") or {}).get("payload")
            if quick:
                payload["button"] = str(quick)
            story = reply_to.get("story") or {}
            if story:
                payload["story"] = {k: str(story[k]) for k in ("id", "url") if story.get(k)}
            return InboundItem(
                kind="message",
                event_id=str(msg.get("mid")),
                account_id=account,
                from_id=user,
                text=msg.get("text") or "",
                refers_to=[str(reply_to["mid"])] if reply_to.get("mid") else [],
                attachments=attachments,
                occurred_at=at,
                subtype=_story_kind(msg),
                referral=_referral(msg.get("referral") or event.get("referral")),
                message_id=str(msg.get("mid") or ""),
                payload=payload,
            )
        if "postback" in event:
            postback = event["postback"]
            title = postback.get("title") or ""
            chosen = {"button": str(postback["payload"])} if postback.get("payload") else {}
            return InboundItem(
                kind="message",
                event_id=str(postback.get("mid") or f"postback:{user}:{ts}"),
                account_id=account,
                from_id=user,
                text=title or postback.get("payload") or "",
                occurred_at=at,
                referral=_referral(postback.get("referral")),
                message_id=str(postback.get("mid") or ""),
                payload=chosen | ({"title": str(title)} if title and chosen else {}),
            )
        if "message_edit" in event:
            edit = event["message_edit"] or {}
            return InboundItem(
                kind="edited",
                event_id=f"edit:{edit.get('mid')}:{edit.get('num_edit', ts)}",
                account_id=account,
                from_id=user,
                text=str(edit.get("text") or ""),
                message_id=str(edit.get("mid") or ""),
                occurred_at=at,
            )
        if "reaction" in event:
            reaction = event["reaction"] or {}
            action = str(reaction.get("action") or "react")
            return InboundItem(
                kind="reaction",
                event_id=f"reaction:{reaction.get('mid')}:{user}:{ts}:{action}",
                account_id=account,
                from_id=user,
                emoji=str(reaction.get("emoji") or reaction.get("reaction") or ""),
                action=action,
                refers_to=[str(reaction["mid"])] if reaction.get("mid") else [],
                occurred_at=at,
            )
        for key, step in HANDOVERS.items():
            if key in event:
                return self._handover_item(account, user, ts, at, step, event[key] or {})
        if "referral" in event:  # an ad click or ref link into an existing thread
            return InboundItem(
                kind="referral",
                event_id=f"referral:{account}:{user}:{ts}",
                account_id=account,
                from_id=user,
                occurred_at=at,
                referral=_referral(event["referral"]),
            )
        for kind in ("delivery", "read"):
            receipt = event.get(kind)
            if receipt is not None:
                mids = receipt.get("mids") or ([receipt["mid"]] if receipt.get("mid") else [])
                mark = receipt.get("watermark")
                return InboundItem(
                    kind="delivered" if kind == "delivery" else "read",
                    event_id=f"{kind}:{account}:{user}:{mark or ','.join(mids)}",
                    account_id=account,
                    from_id=user,
                    refers_to=mids,
                    watermark=mark / 1000 if isinstance(mark, int | float) else None,
                )
        return unknown_item(account, user, event)

    @staticmethod
    def _handover_item(
        account: str,
        user: str,
        ts: Any,
        at: float | None,
        step: str,
        value: dict[str, Any],
    ) -> InboundItem:
        """pass_thread_control reaches the app the thread was passed to (us), take_thread_control
        the app it was taken from (us), request_thread_control the owner (us) asked to pass
        it (nothing changes until it does)."""
        if step == "pass":
            owner = ""
        elif step == "take":
            owner = str(value.get("new_owner_app_id") or "other")
        else:
            owner = str(value.get("requested_owner_app_id") or "")
        return InboundItem(
            kind="handover",
            event_id=f"{step}_thread_control:{account}:{user}:{ts}",
            account_id=account,
            from_id=user,
            handover=step,
            thread_owner=owner,
            text=str(value.get("metadata") or "")[:1000],
            occurred_at=at,
        )

    def _change_item(self, account: str, change: dict[str, Any], at: float | None) -> InboundItem:
        value = change.get("value") or {}
        if change.get("field") == "comments" and value.get("id"):
            sender = value.get("from") or {}
            if account and str(sender.get("id", "")) == account:
                # Our own comment (a public reply we posted): never a lead, never answered.
                return InboundItem(kind="echo", event_id=f"comment:{value['id']}")
            return InboundItem(
                kind="comment",
                event_id=f"comment:{value['id']}",
                account_id=account,
                from_id=str(sender.get("id", "")),
                from_handle=sender.get("username", ""),
                text=value.get("text", ""),
                refers_to=[str(value["id"])],
                post_id=str((value.get("media") or {}).get("id", "")),
                occurred_at=at,
            )
        if change.get("field") == "feed" and value.get("item") == "comment":
            return self._feed_comment(account, value, at)
        return unknown_item(account, "", change)

    def _feed_comment(self, account: str, value: dict[str, Any], at: float | None) -> InboundItem:
        """A Facebook Page comment: the Page webhook's `feed` field, item "comment" (edits
        and removals are not new engagement)."""
        if value.get("verb") != "add" or not value.get("comment_id"):
            return InboundItem(kind="ignored", event_id="")
        sender = value.get("from") or {}
        comment_id = str(value["comment_id"])
        if account and str(sender.get("id", "")) == account:
            return InboundItem(kind="echo", event_id=f"comment:{comment_id}")
        created = value.get("created_time")
        return InboundItem(
            kind="comment",
            event_id=f"comment:{comment_id}",
            account_id=account,
            from_id=str(sender.get("id", "")),
            name=str(sender.get("name", "")),
            text=value.get("message", ""),
            refers_to=[comment_id],
            post_id=str(value.get("post_id", "")),
            occurred_at=float(created) if isinstance(created, int | float) else at,
        )


# Handover protocol webhooks (messaging_handovers) and what each one did.
HANDOVERS = {
    "pass_thread_control": "pass",
    "take_thread_control": "take",
    "request_thread_control": "request",
}


def unknown_item(account: str, user: str, event: dict[str, Any]) -> InboundItem:
    """An event kind we do not handle: stored (its id is its content's hash, so a repeat
    delivery is one row) and logged when processed, never silently dropped."""
    digest = hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()[:40]
    name = event.get("field") or next(
        (k for k in event if k not in ("sender", "recipient", "timestamp")), "?"
    )
    return InboundItem(
        kind="unknown",
        event_id=f"unknown:{account}:{digest}",
        account_id=account,
        from_id=user,
        subtype=str(name)[:64],
    )


def _story_kind(msg: dict[str, Any]) -> str:
    """Instagram marks a reply to our story with reply_to.story and a mention of us in the
    person's story with a story_mention attachment."""
    if (msg.get("reply_to") or {}).get("story"):
        return "story_reply"
    if any(a.get("type") == "story_mention" for a in msg.get("attachments") or []):
        return "story_mention"
    return ""


def _referral(ref: dict[str, Any] | None) -> dict[str, Any]:
    """Keep what a trigger can match or tag on: ref, source (ADS, SHORTLINK), type, ad_id."""
    if not ref:
        return {}
    keep = {k: str(ref[k]) for k in ("ref", "source", "type", "ad_id") if ref.get(k)}
    title = (ref.get("ads_context_data") or {}).get("ad_title")
    return keep | ({"ad_title": str(title)} if title else {})


class MessengerChannel(MetaChannel):
    default_base_url = "https://graph.facebook.com"
    webhook_object = "page"


class InstagramChannel(MetaChannel):
    """Instagram API with Instagram Login: host graph.instagram.com, IG user token."""

    default_base_url = "https://graph.instagram.com"
    webhook_object = "instagram"
    comment_edge = "replies"
