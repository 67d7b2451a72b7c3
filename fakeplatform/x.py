"""X API v2 direct messages on the fake server: sends only to people who wrote first, the
DM history a lost answer is looked up in, signed Account Activity webhooks
(docs/channels.md#x)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Any

from fakeplatform.common import Routes, State, fixture
from fakeplatform.server import Handler

X_DM = re.compile(r"^/2/dm_conversations/with/([^/]+)/messages$")
X_EPOCH = 1582838458000000000  # a real-looking DM event id to count up from
X_HISTORY = re.compile(r"^/2/dm_conversations/with/([^/]+)/dm_events$")


def x_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def x_headers(secret: str, body: bytes) -> dict[str, str]:
    return {"x-twitter-webhooks-signature": x_signature(secret, body)}


class XState(State):
    def say_x(self, user: str, account: str, text: str):
        ts = self.now()
        n = next(self.ids)
        body = fixture("x", "dm_received")
        body["for_user_id"] = account
        event = body["direct_message_events"][0]
        # One growing id sequence for every DM event, as X snowflake ids grow with time.
        event["id"], event["created_timestamp"] = str(X_EPOCH + n), str(int(ts * 1000))
        event["message_create"]["target"]["recipient_id"] = account
        event["message_create"]["sender_id"] = user
        event["message_create"]["message_data"]["text"] = text
        self.x_event(event["id"], user, account, text, ts)
        body["users"] = {user: {"id": user, "name": user, "screen_name": f"user{user}"}}
        return body

    def x_event(self, event_id: str, sender: str, recipient: str, text: str, ts: float) -> None:
        """One DM in X's history, as GET /2/dm_events lists it."""
        low, high = sorted([sender, recipient], key=lambda u: (len(u), u))
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
        with self.lock:
            self.x_events.append(
                {
                    "id": event_id,
                    "event_type": "MessageCreate",
                    "text": text,
                    "sender_id": sender,
                    "dm_conversation_id": f"{low}-{high}",
                    "created_at": f"{created}.{int(ts * 1000) % 1000:03d}Z",
                    "participants": {sender, recipient},
                }
            )


class XRoutes(Routes):
    def _x(self, handler: Handler, participant: str, body) -> None:
        p = self.platforms
        token = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        table = fixture("x", "errors")
        if not token or token == "expired":
            return self._fail(handler, table["unauthorized"])
        if error := p.take_error("x"):
            return self._fail(handler, error)
        if not body.get("text") and not body.get("attachments"):
            return self._fail(handler, table["invalid_request"])
        user = p.users.get(("x", participant))
        if user is None or user["last_inbound"] is None or user["blocked"]:
            return self._fail(handler, table["not_permitted"])
        self._record("x", handler.path, token, body)
        me = p.x_tokens.get(token, "0")
        event_id = str(X_EPOCH + next(p.ids))
        p.x_event(event_id, me, participant, str(body.get("text", "")), p.now())
        slow = p.slow.get("x", 0.0)
        if slow:  # accepted, but the answer comes after the client has given up
            time.sleep(slow)
        low, high = sorted([me, participant], key=lambda u: (len(u), u))
        handler._json(
            201,
            {"data": {"dm_conversation_id": f"{low}-{high}", "dm_event_id": event_id}},
            {"x-rate-limit-limit": "200", "x-rate-limit-remaining": "199"},
        )

    def _x_history(self, handler: Handler, participant: str | None, query) -> None:
        """GET /2/dm_events and /2/dm_conversations/with/:id/dm_events: newest first, paged."""
        p = self.platforms
        token = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        me = p.x_tokens.get(token)
        if me is None:
            return self._fail(handler, fixture("x", "errors")["unauthorized"])
        fields = set((query.get("dm_event.fields") or [""])[0].split(",")) | {
            "id",
            "event_type",
            "text",
        }
        with p.lock:
            events = [
                e
                for e in reversed(p.x_events)
                if me in e["participants"]
                and (participant is None or participant in e["participants"])
            ]
        size = min(int((query.get("max_results") or ["100"])[0]), 100)
        start = int((query.get("pagination_token") or ["0"])[0])
        page = events[start : start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if start + size < len(events):
            meta["next_token"] = str(start + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [{k: v for k, v in e.items() if k in fields} for e in page]
        handler._json(200, body)
