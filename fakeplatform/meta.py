"""Meta Graph on the fake server: Instagram and Messenger sends (inside the 24 h window, a
HUMAN_AGENT reply within 7 days, one private reply per comment), public comment replies,
comment and echo webhooks, Meta CDN media links (docs/channels.md#instagram-and-messenger).
WhatsApp shares the Graph host: whatsapp.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs

from fakeplatform.common import DAY, VERSIONS, Routes, State, fixture
from fakeplatform.server import Handler

GRAPH = re.compile(r"^/(v[\d.]+)/([^/]+)/messages$")
# Public replies to a comment: Instagram's /replies, a Facebook Page's /comments.
COMMENT_EDGE = re.compile(r"^/(v[\d.]+)/([^/]+)/(replies|comments)$")
EDGE_OF = {"instagram": "replies", "messenger": "comments"}


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def meta_headers(secret: str, body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": meta_signature(secret, body)}


class MetaState(State):
    def render_comment(self, body: dict[str, Any], uid: str) -> tuple[str, bytes]:
        """An Instagram/Facebook comment webhook; the comment is remembered for the private
        reply (one per comment, within 7 days of when it was written)."""
        platform, account = body["platform"], str(body["account"])
        at = self.now() - float(body.get("ago", 0))
        with self.lock:
            comment_id = str(17865799348089039 + next(self.ids))
            self.comments[comment_id] = {
                "user": uid,
                "at": at,
                "replied": False,
                "platform": platform,
                "account": account,
                "media": str(body.get("media", "")),
            }
        rendered = self.comment_webhook(
            platform,
            account,
            comment_id,
            uid,
            str(body.get("text", "")),
            str(body.get("media", "")),
            at,
            handle=body.get("handle", f"user{uid}"),
        )
        return comment_id, rendered

    def comment_webhook(
        self,
        platform: str,
        account: str,
        comment_id: str,
        uid: str,
        text: str,
        media: str,
        at: float,
        *,
        parent: str = "",
        handle: str = "",
    ) -> bytes:
        """Instagram announces a comment in its `comments` field; a Facebook Page in its
        `feed` field (item "comment", verb "add"), with a different shape."""
        if platform == "instagram":
            rendered = fixture("instagram", "comment")
            entry = rendered["entry"][0]
            entry["id"], entry["time"] = account, int(at)
            value = entry["changes"][0]["value"]
            value.update({"id": comment_id, "text": text})
            if media:
                value["media"] = {"id": media, "media_product_type": "FEED"}
            if parent:
                value["parent_id"] = parent
            value["from"] = {"id": uid, "username": handle or f"user{uid}"}
            return json.dumps(rendered).encode()
        rendered = fixture("messenger", "feed_comment")
        entry = rendered["entry"][0]
        entry["id"], entry["time"] = account, int(at)
        value = entry["changes"][0]["value"]
        post = media or f"{account}_1"
        value.update(
            {
                "from": {"id": uid, "name": handle or f"User {uid}"},
                "message": text,
                "post_id": post,
                "comment_id": comment_id,
                "parent_id": parent or post,
                "created_time": int(at),
            }
        )
        value["post"]["id"] = post
        return json.dumps(rendered).encode()

    def say_meta(self, platform: str, user: str, account: str, text: str, reply_to: str):
        ts = self.now()
        n = next(self.ids)
        body = fixture("messenger", "inbound_text")
        body["object"] = "page" if platform == "messenger" else "instagram"
        entry = body["entry"][0]
        entry["id"], entry["time"] = account, int(ts * 1000)
        event = entry["messaging"][0]
        event["sender"]["id"], event["recipient"]["id"] = user, account
        event["timestamp"] = int(ts * 1000)
        event["message"] = {"mid": f"m_FAKEIN{n}", "text": text}
        if reply_to:
            event["message"]["reply_to"] = {"mid": reply_to}
        return body

    def render_echo(self, platform: str, account: str, user: str, mid: str, sent: dict) -> bytes:
        """Meta's message_echoes webhook for a message the page sent, metadata included."""
        body = fixture("messenger", "message_echo")
        body["object"] = "page" if platform == "messenger" else "instagram"
        entry = body["entry"][0]
        ts = int(self.now() * 1000)
        entry["id"], entry["time"] = account, ts
        event = entry["messaging"][0]
        event["sender"]["id"], event["recipient"]["id"], event["timestamp"] = account, user, ts
        message = sent.get("message") or {}
        echo = {"is_echo": True, "app_id": 1517776481860111, "mid": mid, "seq": 0}
        if "metadata" in message:
            echo["metadata"] = message["metadata"]
        if "text" in message:
            echo["text"] = message["text"]
        event["message"] = echo
        return json.dumps(body).encode()


class MetaRoutes(Routes):
    def _graph(self, handler: Handler, version: str, account: str, query, body) -> None:
        p = self.platforms
        platform = "instagram" if account in p.ig_accounts else "messenger"
        token = query.get("access_token", "")
        errors = "messenger" if platform == "instagram" and version not in VERSIONS else platform
        if version not in VERSIONS:
            return self._fail(handler, fixture("messenger", "errors")["unknown_version"])
        if not token or token == "expired":
            return self._fail(handler, fixture(errors, "errors")["token_expired"])
        if error := p.take_error(platform):
            return self._fail(handler, error)
        table = fixture(platform, "errors")
        recipient = body.get("recipient") or {}
        now = p.now()
        if "comment_id" in recipient:
            comment = p.comments.get(recipient["comment_id"])
            if comment is None or comment["replied"] or now > comment["at"] + 7 * DAY:
                return self._fail(handler, table.get("comment_not_found", table["outside_window"]))
            comment["replied"] = True
            uid = comment["user"]
        else:
            uid = str(recipient.get("id", ""))
            user = p.users.get((platform, uid))
            if user is None:
                errs = fixture("messenger", "errors")
                return self._fail(handler, errs["no_matching_user"])
            if user["blocked"]:
                return self._fail(handler, table["unavailable"])
            window = 7 * DAY if body.get("tag") == "HUMAN_AGENT" else DAY
            if user["last_inbound"] is None or now > user["last_inbound"] + window:
                return self._fail(handler, table["outside_window"])
        self._record(platform, handler.path, token, body)
        mid = f"m_FAKE{next(p.ids)}"
        slow = p.slow.get(platform, 0.0)
        hook = p.webhooks.get(platform) or {}
        if hook.get("echoes"):  # the app subscribed to message_echoes
            p.later(platform, p.render_echo(platform, account, uid, mid, body), slow + 0.05)
        if slow:  # accepted, but the answer comes after the client has given up
            time.sleep(slow)
        handler._json(
            200,
            {"recipient_id": uid, "message_id": mid},
            {"X-App-Usage": json.dumps({"call_count": 1, "total_cputime": 1, "total_time": 1})},
        )

    def _comment_reply(self, handler: Handler, version: str, cid: str, edge: str, query) -> None:
        """A public reply under a comment. Graph takes parameters from the query string or a
        form body alike; the reply is a new comment by the account, announced by webhook."""
        p = self.platforms
        raw = handler._raw_body().decode()
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        token = query.get("access_token") or form.get("access_token", "")
        comment = p.comments.get(cid)
        platform = (
            comment["platform"] if comment else ("instagram" if edge == "replies" else "messenger")
        )
        table = fixture(platform, "errors")
        if version not in VERSIONS:
            return self._fail(handler, fixture("messenger", "errors")["unknown_version"])
        if not token or token == "expired":
            return self._fail(handler, table["token_expired"])
        if error := p.take_error(platform):
            return self._fail(handler, error)
        if comment is None or EDGE_OF[platform] != edge:
            return self._fail(handler, table["object_not_found"])
        text = query.get("message") or form.get("message", "")
        if not text:
            return self._fail(handler, table["message_required"])
        with p.lock:
            reply_id = str(17873440459141021 + next(p.ids))
            p.comments[reply_id] = {
                **comment,
                "user": comment["account"],
                "at": p.now(),
                "replied": False,
                "parent": cid,
            }
        self._record(platform, handler.path, token, form, reply_to=cid, text=text, id=reply_id)
        handler._json(200, {"id": reply_id})
        # Meta announces every new comment under the media, our own replies included.
        echo = p.comment_webhook(
            platform,
            comment["account"],
            reply_id,
            comment["account"],
            text,
            comment["media"],
            p.now(),
            parent=cid,
            handle=f"account{comment['account']}",
        )
        p.later(platform, echo)

    def _meta_cdn(self, handler: Handler, query) -> None:
        """lookaside.fbsbx.com/ig_messaging_cdn/: the signature in the link is the access."""
        record = self.platforms.media.get((query.get("asset_id") or [""])[0])
        signature = (query.get("signature") or [""])[0]
        if record is None or not hmac.compare_digest(signature, record.get("signature", "")):
            handler._json(403, {"error": "URL signature mismatch"})
            return
        self._media_send(handler, record)
