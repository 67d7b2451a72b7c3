"""The platforms' own APIs on one fake server: Meta Graph (Instagram, Messenger: meta.py;
WhatsApp: whatsapp.py), X API v2 DMs (x.py) and the Telegram Bot API (telegram.py), with their
request checks, windows, error bodies and signed webhooks back to the engine
(docs/channels.md#the-fake-platform). This module routes requests to them and serves the
control API; common.py is the state and plumbing they share.

Error bodies and webhook bodies are rendered from the canonical fixtures under
tests/fixtures/platforms/, the same files the contract tests read, so the two cannot drift.

Control API (tests and the demo):
  POST /_fake/clock     {"advance": s} | {"now": epoch}     the platforms' clock
  POST /_fake/webhooks  {"platform", "url", "secret", "echoes"}  where and how to sign webhooks;
                        echoes: Meta posts message_echoes for what the page sends
  POST /_fake/accounts  {"platform", "id", "token"}         an Instagram account id; for X,
                        which user an access token belongs to
  POST /_fake/users     {"platform", "id", "started", "blocked", "on_whatsapp", "handle",
                         "marketing_limited": n (WhatsApp: the next n templates to this user
                         are accepted, then fail by status with 131049)}
  POST /_fake/say       {"platform", "user", "account", "text", "reply_to", "times",
                         "parallel"}   the user writes: window opens, signed webhook(s) go out
  POST /_fake/comment   {"platform", "user", "account", "text", "media"}  Instagram/FB comment
  POST /_fake/comment_burst {"platform", "users", "account", "text", "media", "workers",
                        "ago"}  many comments at once, posted concurrently; "ago" seconds old
  POST /_fake/referral  {"platform", "user", "account", "text", "ad_id", "ref", "ad_title"}
                        a click-to-message ad: the first message carries the referral
  POST /_fake/block     {"user"}                            Telegram: the user blocks the bot
  POST /_fake/start     {"user", "payload", "handle"}       Telegram: /start <payload>
  POST /_fake/slow      {"platform", "seconds"}  accept, then answer this late
                        (WhatsApp, Messenger, Instagram, X)
  POST /_fake/errors    {"platform", "error", "times", "after"}  the next sends (after `after`
                                                            good ones) fail with a fixture
  (Graph) POST /{ver}/{ig-comment-id}/replies?message=…  and  POST /{ver}/{comment-id}/comments
        (message in the form body): a public reply under a comment -> {"id"}; our new comment
        comes back as a signed comments webhook, as Meta sends it
  POST /_fake/media     {"platform", "content_b64", "content_type", "fail", "fail_status"}
                        a file a user sends: answers its reference as the webhook carries it
                        (Telegram file_id, WhatsApp media id, Meta CDN url); its first
                        `fail` downloads answer `fail_status` (default 500)
  POST /_fake/deliver   {"platform", "body"}  sign and post this webhook body to the engine
  POST /_fake/wa_templates {"waba", "templates"}  a WABA's message templates, as Meta lists them
  POST /_fake/wa_tier   {"phone_number_id", "tier"}  its messaging_limit_tier (e.g. TIER_2K)
  (Graph) GET /{ver}/{waba-id}/message_templates?limit=&after= -> {"data", "paging"}
  (Graph) GET /{ver}/{phone-number-id}?fields=messaging_limit_tier -> {"messaging_limit_tier", "id"}
  (Bot API) getFile {"file_id"} -> File; GET /file/bot<token>/<file_path> -> the bytes
  (Graph) GET /{ver}/{media-id} with the bearer token -> {"url", "mime_type", "sha256",
        "file_size", "id"}; GET that url (/whatsapp_business/attachments/) with the token
  (Meta CDN) GET /ig_messaging_cdn/?asset_id=…&signature=… -> the bytes (signed, no token)
  GET  /_fake/media     every file with how often it was looked up and downloaded
  GET  /_fake/outbox    every accepted platform request
  GET  /_fake/webhook_log  every webhook posted to the engine, with the engine's answer
"""

import base64
import binascii
import hashlib
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

from fakeplatform.meta import COMMENT_EDGE, GRAPH, MetaRoutes, MetaState, meta_headers
from fakeplatform.server import Handler
from fakeplatform.telegram import (
    BOT,
    TG_FILE,
    TelegramRoutes,
    TelegramState,
    telegram_headers,
)
from fakeplatform.whatsapp import WA_TEMPLATES, WhatsAppRoutes, WhatsAppState
from fakeplatform.x import X_DM, X_HISTORY, XRoutes, XState, x_headers

GRAPH_OBJECT = re.compile(r"^/(v[\d.]+)/(\w+)$")


class Platforms(MetaState, WhatsAppState, XState, TelegramState):
    SIGNERS = {
        "instagram": meta_headers,
        "messenger": meta_headers,
        "whatsapp": meta_headers,
        "x": x_headers,
        "telegram": telegram_headers,
    }

    def render_say(self, platform: str, user: str, account: str, text: str, reply_to: str):
        """The webhook body of a user's message, in the platform's own shape."""
        if platform in ("messenger", "instagram"):
            return self.say_meta(platform, user, account, text, reply_to)
        if platform == "whatsapp":
            return self.say_whatsapp(user, account, text, reply_to)
        if platform == "x":
            return self.say_x(user, account, text)
        return self.say_telegram(user, text, reply_to)


class PlatformServer(MetaRoutes, WhatsAppRoutes, XRoutes, TelegramRoutes):
    """The generic fake (/v1/messages) plus the platforms' real request/response shapes."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__(port=port, host=host)
        self.platforms = Platforms()

    def extra_get(self, handler: Handler, url) -> bool:
        p = self.platforms
        if url.path == "/_fake/outbox":
            handler._json(200, p.outbox)
        elif url.path == "/_fake/webhook_log":
            handler._json(200, p.webhook_log)
        elif url.path == "/2/dm_events":
            self._x_history(handler, None, parse_qs(url.query))
        elif m := X_HISTORY.match(url.path):
            self._x_history(handler, m.group(1), parse_qs(url.query))
        elif url.path == "/_fake/media":
            with p.lock:
                rows = [
                    {k: v for k, v in f.items() if k != "data"} | {"ref": ref}
                    for ref, f in p.media.items()
                ]
            handler._json(200, rows)
        elif m := TG_FILE.match(url.path):
            self._telegram_file(handler, m.group(1), m.group(2))
        elif m := BOT.match(url.path):  # the Bot API takes GET as well as POST
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            self._telegram(handler, m.group(1), m.group(2), query)
        elif m := WA_TEMPLATES.match(url.path):
            self._whatsapp_templates(handler, m.group(1), m.group(2), parse_qs(url.query))
        elif (m := GRAPH_OBJECT.match(url.path)) and "fields=" in url.query:
            self._whatsapp_phone_number(handler, m.group(1), m.group(2), parse_qs(url.query))
        elif m := GRAPH_OBJECT.match(url.path):
            self._whatsapp_media_url(handler, m.group(1), m.group(2))
        elif url.path == "/whatsapp_business/attachments/":
            self._whatsapp_media_download(handler, parse_qs(url.query))
        elif url.path == "/ig_messaging_cdn/":
            self._meta_cdn(handler, parse_qs(url.query))
        else:
            return False
        return True

    def extra_post(self, handler: Handler, url) -> bool:
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.startswith("/_fake/"):
            return self._control(handler, url.path[len("/_fake/") :], handler._body())
        if m := GRAPH.match(url.path):
            body = handler._body()
            if body.get("messaging_product") == "whatsapp":
                self._whatsapp_graph(handler, m.group(1), m.group(2), body)
            else:
                self._graph(handler, m.group(1), m.group(2), query, body)
        elif m := COMMENT_EDGE.match(url.path):
            self._comment_reply(handler, m.group(1), m.group(2), m.group(3), query)
        elif m := X_DM.match(url.path):
            self._x(handler, m.group(1), handler._body())
        elif m := BOT.match(url.path):
            self._telegram(handler, m.group(1), m.group(2), handler._body())
        else:
            return False
        return True

    # --- control ---------------------------------------------------------------------

    def _control(self, handler: Handler, action: str, body: dict[str, Any]) -> bool:
        p = self.platforms
        result: Any = {"ok": True}
        if action == "clock":
            with p.lock:
                if "now" in body:
                    p.offset = float(body["now"]) - time.time()
                p.offset += float(body.get("advance", 0))
            result = {"now": p.now()}
        elif action == "reset":
            with p.lock:
                p.reset()
        elif action == "slow":
            with p.lock:
                p.slow[body["platform"]] = float(body["seconds"])
        elif action == "webhooks":
            p.webhooks[body["platform"]] = {
                "url": body["url"],
                "secret": body["secret"],
                "echoes": bool(body.get("echoes")),  # Meta's message_echoes subscription
            }
        elif action == "accounts" and body.get("platform") == "x":
            with p.lock:
                p.x_tokens[str(body["token"])] = str(body["id"])
        elif action == "accounts":
            p.ig_accounts.add(str(body["id"]))
        elif action == "wa_templates":  # what GET /{waba id}/message_templates lists
            with p.lock:
                p.wa_templates[str(body["waba"])] = list(body["templates"])
        elif action == "wa_tier":  # GET /{phone number id}?fields=messaging_limit_tier
            with p.lock:
                p.wa_tiers[str(body["phone_number_id"])] = str(body["tier"])
        elif action == "users":
            user = p.user(body["platform"], body["id"])
            user.update({k: v for k, v in body.items() if k not in ("platform", "id")})
        elif action == "errors":
            with p.lock:
                p.errors.append(
                    {**body, "times": int(body.get("times", 1)), "after": int(body.get("after", 0))}
                )
        elif action == "say":
            platform, uid = body["platform"], str(body["user"])
            p.user(platform, uid)["last_inbound"] = p.now()
            rendered = p.render_say(
                platform, uid, str(body.get("account", "")), body["text"], body.get("reply_to", "")
            )
            raw = json.dumps(rendered, ensure_ascii=bool(body.get("ascii", False))).encode()
            statuses = p.deliver(
                platform, raw, times=int(body.get("times", 1)), parallel=bool(body.get("parallel"))
            )
            result = {"statuses": statuses, "body": rendered}
        elif action == "media":
            result = self._media_add(body)
        elif action == "deliver":
            raw = json.dumps(body["body"]).encode()
            result = {"statuses": p.deliver(body["platform"], raw)}
        elif action == "comment":
            comment_id, raw = p.render_comment(body, str(body["user"]))
            statuses = p.deliver(body["platform"], raw)
            result = {"comment_id": comment_id, "statuses": statuses}
        elif action == "comment_burst":
            # A viral post: one signed webhook per comment, all posted at once from a pool.
            users = [str(u) for u in body["users"]]
            rendered = [p.render_comment(body, uid) for uid in users]
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=int(body.get("workers", 16))) as pool:
                statuses = list(pool.map(lambda r: p.deliver(body["platform"], r[1])[0], rendered))
            result = {
                "comment_ids": [cid for cid, _ in rendered],
                "statuses": statuses,
                "seconds": time.monotonic() - started,
            }
        elif action == "referral":
            # A click on a click-to-message ad: the first message carries the ad's referral.
            platform, uid = body["platform"], str(body["user"])
            p.user(platform, uid)["last_inbound"] = p.now()
            rendered = p.render_say(
                platform, uid, str(body.get("account", "")), body.get("text", ""), ""
            )
            rendered["entry"][0]["messaging"][0]["message"]["referral"] = {
                "ref": body.get("ref", ""),
                "ad_id": str(body.get("ad_id", "")),
                "source": "ADS",
                "type": "OPEN_THREAD",
                "ads_context_data": {"ad_title": body.get("ad_title", "")},
            }
            result = {"statuses": p.deliver(platform, json.dumps(rendered).encode())}
        elif action == "block":
            rendered = p.render_block(str(body["user"]))
            result = {"statuses": p.deliver("telegram", json.dumps(rendered).encode())}
        elif action == "start":
            uid = str(body["user"])
            handle = body.get("handle", f"user{uid}")
            rendered = p.render_start(uid, str(body.get("payload", "")), handle)
            result = {"statuses": p.deliver("telegram", json.dumps(rendered).encode())}
        else:
            handler._json(404, {"error": f"unknown control {action}"})
            return True
        handler._json(200, result)
        return True

    # --- media users send: Telegram files, WhatsApp media ids, Meta CDN links ----------------

    def _media_add(self, body: dict[str, Any]) -> dict[str, Any]:
        p = self.platforms
        try:
            data = base64.b64decode(str(body.get("content_b64", "")), validate=True)
        except binascii.Error:
            data = b""
        platform = str(body["platform"])
        n = next(p.ids)
        record: dict[str, Any] = {
            "platform": platform,
            "data": data,
            "size": len(data),
            "content_type": str(body.get("content_type") or "application/octet-stream"),
            "fail": int(body.get("fail", 0)),
            "fail_status": int(body.get("fail_status", 500)),
            "lookups": 0,
            "downloads": 0,
        }
        if platform == "telegram":
            ref = f"AwACAgIAAxkBAAI{n:06d}"  # file ids look like this, base64url
            ext = {"audio/ogg": "oga", "image/jpeg": "jpg", "video/mp4": "mp4"}.get(
                record["content_type"], "bin"
            )
            folder = {"audio/ogg": "voice", "image/jpeg": "photos"}.get(
                record["content_type"], "documents"
            )
            record["file_path"] = f"{folder}/file_{n}.{ext}"
            answer = {"file_id": ref}
        elif platform == "whatsapp":
            ref = str(1000000000000 + n)
            answer = {"media_id": ref}
        else:
            ref = str(17900000000000000 + n)
            sig = hashlib.sha256(f"fake-cdn:{ref}".encode()).hexdigest()[:32]
            record["signature"] = sig
            answer = {"url": f"{self.url}/ig_messaging_cdn/?asset_id={ref}&signature={sig}"}
        with p.lock:
            p.media[ref] = record
        return answer
