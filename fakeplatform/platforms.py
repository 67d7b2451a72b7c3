"""The platforms' own APIs on the fake server: Meta Graph (Instagram, Messenger, WhatsApp),
X API v2 DMs and the Telegram Bot API, with their request checks, windows, error bodies and
signed webhooks back to the engine (docs/channels.md#the-fake-platform).

Error bodies and webhook bodies are rendered from the canonical fixtures under
tests/fixtures/platforms/, the same files the contract tests read, so the two cannot drift.

Control API (tests and the demo):
  POST /_fake/clock     {"advance": s} | {"now": epoch}     the platforms' clock
  POST /_fake/webhooks  {"platform", "url", "secret", "echoes"}  where and how to sign webhooks;
                        echoes: Meta posts message_echoes for what the page sends
  POST /_fake/accounts  {"platform", "id", "token"}         an Instagram account id; for X,
                        which user an access token belongs to
  POST /_fake/users     {"platform", "id", "started", "blocked", "on_whatsapp", "handle"}
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
import hmac
import itertools
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

from fakeplatform.server import FakePlatformServer, Handler

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "platforms"
VERSIONS = {"v25.0"}
DAY = 86400.0
GRAPH = re.compile(r"^/(v[\d.]+)/([^/]+)/messages$")
# Public comment replies: Instagram's /replies edge, a Facebook Page's /comments edge.
COMMENT_EDGE = re.compile(r"^/(v[\d.]+)/([^/]+)/(replies|comments)$")
EDGE_OF = {"instagram": "replies", "messenger": "comments"}
X_DM = re.compile(r"^/2/dm_conversations/with/([^/]+)/messages$")
X_EPOCH = 1582838458000000000  # a real-looking DM event id to count up from
X_HISTORY = re.compile(r"^/2/dm_conversations/with/([^/]+)/dm_events$")
BOT = re.compile(r"^/bot([^/]+)/(\w+)$")
TG_FILE = re.compile(r"^/file/bot([^/]+)/(.+)$")
GRAPH_OBJECT = re.compile(r"^/(v[\d.]+)/(\w+)$")
TG_MAX_DOWNLOAD = 20 * 1024 * 1024  # Bot API getFile: "bots can download files of up to 20MB"
TG_METHODS = {"sendMessage", "sendPhoto", "sendVideo", "sendAudio", "sendVoice"}
TG_METHODS |= {"sendAnimation", "sendDocument", "sendMediaGroup"}


def fixture(platform: str, name: str) -> Any:
    return json.loads((FIXTURES / platform / f"{name}.json").read_text())


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def x_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


class Platforms:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self._client: httpx.Client | None = None
        self.reset()

    def reset(self) -> None:
        self.offset = 0.0
        self.users: dict[tuple[str, str], dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self.ig_accounts: set[str] = {"me"}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.errors: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.webhook_log: list[dict[str, Any]] = []
        # Telegram counts message_id per bot and chat: two bots' chats with one person both
        # start at 1.
        self.tg_message_ids: dict[tuple[str, str], int] = {}
        self.slow: dict[str, float] = {}  # platform -> seconds before answering
        self.x_tokens: dict[str, str] = {}  # X user access token -> that user's id
        self.x_events: list[dict[str, Any]] = []  # every DM event, oldest first
        self.media: dict[str, dict[str, Any]] = {}  # reference -> a file users sent

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=10)
        return self._client

    def now(self) -> float:
        return time.time() + self.offset

    def user(self, platform: str, uid: str) -> dict[str, Any]:
        return self.users.setdefault(
            (platform, str(uid)),
            {"last_inbound": None, "started": False, "blocked": False, "on_whatsapp": True},
        )

    def take_error(self, platform: str) -> dict[str, Any] | None:
        with self.lock:
            for e in self.errors:
                if e["platform"] == platform and e["times"] > 0:
                    if e.get("after", 0) > 0:  # let this many calls through first
                        e["after"] -= 1
                        return None
                    e["times"] -= 1
                    return fixture(platform, "errors")[e["error"]]
        return None

    # --- webhooks to the engine ----------------------------------------------------

    def deliver(self, platform: str, body: bytes, *, times: int = 1, parallel: bool = False):
        hook = self.webhooks.get(platform)
        if not hook:
            return []
        headers = {"Content-Type": "application/json", "Connection": "close"}
        if platform in ("instagram", "messenger", "whatsapp"):
            headers["X-Hub-Signature-256"] = meta_signature(hook["secret"], body)
        elif platform == "x":
            headers["x-twitter-webhooks-signature"] = x_signature(hook["secret"], body)
        elif platform == "telegram":
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret"]
        statuses: list[int] = []
        client = self.client()

        def post() -> None:
            try:
                code = client.post(hook["url"], content=body, headers=headers).status_code
            except httpx.HTTPError:
                code = 0
            with self.lock:
                statuses.append(code)
                self.webhook_log.append(
                    {"platform": platform, "status": code, "body": body.decode()}
                )

        threads = [threading.Thread(target=post) for _ in range(times)]
        for t in threads:
            t.start()
            if not parallel:
                t.join()
        for t in threads:
            t.join()
        return statuses

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

    def later(self, platform: str, body: bytes, delay: float = 0.05) -> None:
        threading.Timer(delay, self.deliver, args=(platform, body)).start()

    # --- rendering webhook bodies from the fixtures ------------------------------------

    def render_say(self, platform: str, user: str, account: str, text: str, reply_to: str):
        ts = self.now()
        n = next(self.ids)
        if platform in ("messenger", "instagram"):
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
        elif platform == "whatsapp":
            body = fixture("whatsapp", "inbound_reply_with_context" if reply_to else "inbound_text")
            value = body["entry"][0]["changes"][0]["value"]
            value["metadata"]["phone_number_id"] = account
            value["contacts"][0]["wa_id"] = user
            msg = value["messages"][0]
            msg.update({"from": user, "id": f"wamid.FAKEIN{n}", "timestamp": str(int(ts))})
            msg["text"] = {"body": text}
            if reply_to:
                msg["context"]["id"] = reply_to
        elif platform == "x":
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
        else:  # telegram
            body = fixture("telegram", "text_private_real")
            body["update_id"] = 306197398 + n
            msg = body["message"]
            msg["chat"]["id"] = msg["from"]["id"] = int(user)
            msg.update({"message_id": 1000 + n, "date": int(ts), "text": text})
            if reply_to:
                msg["reply_to_message"] = {"message_id": int(reply_to.rpartition(":")[2])}
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

    def wa_status(
        self, account: str, wamid: str, to: str, status: str, error: dict | None, opaque: str = ""
    ):
        body = fixture("whatsapp", "status_failed_130472" if error else "status_sent")
        value = body["entry"][0]["changes"][0]["value"]
        value["metadata"]["phone_number_id"] = account
        st = value["statuses"][0]
        st.update({"id": wamid, "status": status, "recipient_id": to})
        if opaque:  # the request's biz_opaque_callback_data comes back in every status
            st["biz_opaque_callback_data"] = opaque
        st["timestamp"] = str(int(self.now()))
        if error:
            st["errors"] = [error]
        return json.dumps(body).encode()


class PlatformServer(FakePlatformServer):
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
        elif url.path == "/2/dm_events" or (m := X_HISTORY.match(url.path)):
            participant = m.group(1) if m and url.path != "/2/dm_events" else None
            self._x_history(handler, participant, parse_qs(url.query))
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
            self._graph(handler, m.group(1), m.group(2), query, handler._body())
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
            uid = str(body["user"])
            p.user("telegram", uid)["blocked"] = True
            rendered = fixture("telegram", "my_chat_member_kicked")
            rendered["update_id"] = 500000000 + next(p.ids)
            rendered["my_chat_member"]["chat"]["id"] = int(uid)
            rendered["my_chat_member"]["from"]["id"] = int(uid)
            result = {"statuses": p.deliver("telegram", json.dumps(rendered).encode())}
        elif action == "start":
            uid = str(body["user"])
            user = p.user("telegram", uid)
            user.update(started=True, blocked=False, last_inbound=p.now())
            rendered = fixture("telegram", "start_deep_link")
            rendered["update_id"] = 600000000 + next(p.ids)
            msg = rendered["message"]
            msg["chat"]["id"] = msg["from"]["id"] = int(uid)
            msg["from"]["username"] = msg["chat"]["username"] = body.get("handle", f"user{uid}")
            msg["text"], msg["date"] = f"/start {body.get('payload', '')}".strip(), int(p.now())
            result = {"statuses": p.deliver("telegram", json.dumps(rendered).encode())}
        else:
            handler._json(404, {"error": f"unknown control {action}"})
            return True
        handler._json(200, result)
        return True

    def _record(self, platform: str, path: str, auth: str, body: dict[str, Any], **extra) -> None:
        with self.platforms.lock:
            self.platforms.outbox.append(
                {"platform": platform, "path": path, "auth": auth, "body": body, "at": time.time()}
                | extra
            )

    def _fail(self, handler: Handler, error: dict[str, Any]) -> None:
        headers = {
            k: v.replace("{reset}", str(int(time.time()) + 60))
            for k, v in error.get("headers", {}).items()
        }
        handler._json(error["status"], error["body"], headers)

    # --- Meta Graph: Instagram, Messenger, WhatsApp ---------------------------------------

    def _graph(self, handler: Handler, version: str, account: str, query, body) -> None:
        p = self.platforms
        if body.get("messaging_product") == "whatsapp":
            platform = "whatsapp"
            token = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        else:
            platform = "instagram" if account in p.ig_accounts else "messenger"
            token = query.get("access_token", "")
        errors = "messenger" if platform == "instagram" and version not in VERSIONS else platform
        if version not in VERSIONS:
            return self._fail(handler, fixture("messenger", "errors")["unknown_version"])
        if not token or token == "expired":
            return self._fail(handler, fixture(errors, "errors")["token_expired"])
        if error := p.take_error(platform):
            return self._fail(handler, error)
        if platform == "whatsapp":
            return self._whatsapp(handler, account, token, body)
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

    def _whatsapp(self, handler: Handler, account: str, token: str, body) -> None:
        p = self.platforms
        to = str(body.get("to", ""))
        if not to.isdigit() or body.get("type") not in body:
            return self._fail(handler, fixture("whatsapp", "errors")["bad_parameter"])
        user = p.user("whatsapp", to)
        wamid = f"wamid.FAKE{next(p.ids)}"
        opaque = str(body.get("biz_opaque_callback_data") or "")[:512]
        self._record("whatsapp", handler.path, token, body)
        # A 200 only means "accepted": the outcome follows as status webhooks.
        in_window = user["last_inbound"] is not None and p.now() < user["last_inbound"] + DAY
        errors = fixture("whatsapp", "errors")
        failure = None
        if not user["on_whatsapp"]:
            failure = errors["undeliverable"]["body"]["error"]
        elif body["type"] != "template" and not in_window:
            failure = errors["re_engagement"]["body"]["error"]
        slow = p.slow.get("whatsapp", 0.0)
        if failure:
            error = {"code": failure["code"], "title": failure["message"]}
            error["error_data"] = failure["error_data"]
            failed = p.wa_status(account, wamid, to, "failed", error, opaque)
            p.later("whatsapp", failed, slow + 0.05)
        else:
            p.later("whatsapp", p.wa_status(account, wamid, to, "sent", None, opaque), slow + 0.05)
            delivered = p.wa_status(account, wamid, to, "delivered", None, opaque)
            p.later("whatsapp", delivered, slow + 0.1)
        if slow:  # accepted, but the answer comes after the client has given up
            time.sleep(slow)
        handler._json(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            },
        )

    # --- X API v2 --------------------------------------------------------------------------

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

    # --- Telegram Bot API ------------------------------------------------------------------

    def _telegram(self, handler: Handler, token: str, method: str, body) -> None:
        p = self.platforms
        table = fixture("telegram", "errors")
        if token == "expired":
            return self._fail(handler, table["unauthorized"])
        if method == "answerCallbackQuery":
            return self._answer_callback(handler, token, body)
        if method == "getFile":
            return self._get_file(handler, str(body.get("file_id") or ""))
        if method not in TG_METHODS:
            handler._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        if error := p.take_error("telegram"):
            return self._fail(handler, error)
        chat = str(body.get("chat_id", ""))
        user = p.users.get(("telegram", chat))
        if user is None:
            return self._fail(handler, table["chat_not_found"])
        if user["blocked"]:
            return self._fail(handler, table["blocked"])
        if not user["started"]:
            return self._fail(handler, table["cant_initiate"])
        if method == "sendMediaGroup" and (problem := _album_problem(body.get("media"))):
            handler._json(400, {"ok": False, "error_code": 400, "description": problem})
            return
        self._record("telegram", handler.path, token, body | {"method": method})

        def sent() -> dict:
            with p.lock:
                p.tg_message_ids[token, chat] = p.tg_message_ids.get((token, chat), 0) + 1
                message_id = p.tg_message_ids[token, chat]
            return {
                "message_id": message_id,
                "from": {"id": 1, "is_bot": True, "first_name": "bot"},
                "chat": {"id": int(chat), "type": "private"},
                "date": int(p.now()),
            }

        if method == "sendMediaGroup":  # an album answers with one Message per item
            handler._json(200, {"ok": True, "result": [sent() for _ in body["media"]]})
            return
        result = sent()
        if "text" in body:
            result["text"] = body["text"]
        handler._json(200, {"ok": True, "result": result})

    def _answer_callback(self, handler: Handler, token: str, body) -> None:
        """answerCallbackQuery: true for a query id, Telegram's 400 without one (an expired
        or unknown id gets the same answer from Telegram)."""
        if not str(body.get("callback_query_id") or ""):
            description = (
                "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
            handler._json(400, {"ok": False, "error_code": 400, "description": description})
            return
        self._record("telegram", handler.path, token, body | {"method": "answerCallbackQuery"})
        handler._json(200, {"ok": True, "result": True})

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

    def _media_send(self, handler: Handler, record: dict[str, Any]) -> None:
        """The bytes, or (while its faults last) the platform failing."""
        with self.platforms.lock:
            record["downloads"] += 1
            failing = record["fail"] > 0
            if failing:
                record["fail"] -= 1
        if failing:
            handler._json(record["fail_status"], {"error": "temporarily unavailable"})
            return
        data = record["data"]
        handler.send_response(200)
        handler.send_header("Content-Type", record["content_type"])
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _get_file(self, handler: Handler, file_id: str) -> None:
        """getFile: the File object, or the Bot API's 400s for unknown and too big files."""
        record = self.platforms.media.get(file_id)
        if record is None or record["platform"] != "telegram":
            body = {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}
            handler._json(400, body)
            return
        with self.platforms.lock:
            record["lookups"] += 1
        if record["size"] > TG_MAX_DOWNLOAD:
            body = {"ok": False, "error_code": 400, "description": "Bad Request: file is too big"}
            handler._json(400, body)
            return
        result = {
            "file_id": file_id,
            "file_unique_id": f"AgAD{file_id[-6:]}",
            "file_size": record["size"],
            "file_path": record["file_path"],
        }
        handler._json(200, {"ok": True, "result": result})

    def _telegram_file(self, handler: Handler, token: str, path: str) -> None:
        record = next(
            (r for r in self.platforms.media.values() if r.get("file_path") == path), None
        )
        if token == "expired" or record is None:
            handler._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        self._media_send(handler, record)

    def _whatsapp_media_url(self, handler: Handler, version: str, ref: str) -> None:
        """Cloud API "Retrieve media URL": needs the bearer token; answers a short-lived url on
        Meta's CDN (here, on this server), which needs the token as well."""
        if version not in VERSIONS:
            return self._fail(handler, fixture("messenger", "errors")["unknown_version"])
        token = _bearer(handler)
        if not token or token == "expired":
            return self._fail(handler, fixture("whatsapp", "errors")["token_expired"])
        record = self.platforms.media.get(ref)
        if record is None or record["platform"] != "whatsapp":
            body = {
                "error": {
                    "message": f"Unsupported get request. Object with ID '{ref}' does not exist",
                    "type": "GraphMethodException",
                    "code": 100,
                    "error_subcode": 33,
                    "fbtrace_id": "AbCdEfGhIjK",
                }
            }
            handler._json(400, body)
            return
        with self.platforms.lock:
            record["lookups"] += 1
        digest = hashlib.sha256(record["data"]).hexdigest()
        query = f"mid={ref}&ext={int(time.time())}&hash={digest[:16]}"
        url = f"{self.url}/whatsapp_business/attachments/?{query}"
        handler._json(
            200,
            {
                "messaging_product": "whatsapp",
                "url": url,
                "mime_type": record["content_type"],
                "sha256": digest,
                "file_size": str(record["size"]),
                "id": ref,
            },
        )

    def _whatsapp_media_download(self, handler: Handler, query) -> None:
        record = self.platforms.media.get((query.get("mid") or [""])[0])
        if not _bearer(handler):  # the media url is no public link
            return self._fail(handler, fixture("whatsapp", "errors")["auth_exception"])
        if record is None:
            handler._json(404, {"error": "not found"})
            return
        self._media_send(handler, record)

    def _meta_cdn(self, handler: Handler, query) -> None:
        """lookaside.fbsbx.com/ig_messaging_cdn/: the signature in the link is the access."""
        record = self.platforms.media.get((query.get("asset_id") or [""])[0])
        signature = (query.get("signature") or [""])[0]
        if record is None or not hmac.compare_digest(signature, record.get("signature", "")):
            handler._json(403, {"error": "URL signature mismatch"})
            return
        self._media_send(handler, record)


def _bearer(handler: Handler) -> str:
    return handler.headers.get("Authorization", "").removeprefix("Bearer ").strip()


def _album_problem(media) -> str:
    """The Bot API's rules for sendMediaGroup, with its error texts."""
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        return "Bad Request: wrong number of media in the album (2-10)"
    kinds = {m.get("type") for m in media}
    if not kinds <= {"photo", "video", "audio", "document"} or not all(
        m.get("media") for m in media
    ):
        return "Bad Request: invalid media in the album"
    if len(kinds) > 1 and not kinds <= {"photo", "video"}:
        return "Bad Request: documents and audio can only be grouped with their own kind"
    return ""
