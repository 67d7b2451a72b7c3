"""The Telegram Bot API on the fake server: a bot writes only to chats that started it,
albums, callback answers, files by file_id, and the /start and block updates
(docs/channels.md#telegram)."""

from __future__ import annotations

import re

from fakeplatform.common import Routes, State, fixture
from fakeplatform.server import Handler

BOT = re.compile(r"^/bot([^/]+)/(\w+)$")
TG_FILE = re.compile(r"^/file/bot([^/]+)/(.+)$")
TG_MAX_DOWNLOAD = 20 * 1024 * 1024  # Bot API getFile: "bots can download files of up to 20MB"
TG_METHODS = {"sendMessage", "sendPhoto", "sendVideo", "sendAudio", "sendVoice"}
TG_METHODS |= {"sendAnimation", "sendDocument", "sendMediaGroup"}


def telegram_headers(secret: str, body: bytes) -> dict[str, str]:
    """Telegram signs nothing: the secret_token given to setWebhook comes back in a header."""
    return {"X-Telegram-Bot-Api-Secret-Token": secret}


class TelegramState(State):
    def say_telegram(self, user: str, text: str, reply_to: str):
        ts = self.now()
        n = next(self.ids)
        body = fixture("telegram", "text_private_real")
        body["update_id"] = 306197398 + n
        msg = body["message"]
        msg["chat"]["id"] = msg["from"]["id"] = int(user)
        msg.update({"message_id": 1000 + n, "date": int(ts), "text": text})
        if reply_to:
            msg["reply_to_message"] = {"message_id": int(reply_to.rpartition(":")[2])}
        return body

    def render_block(self, uid: str):
        """The user blocks the bot: my_chat_member with status kicked."""
        self.user("telegram", uid)["blocked"] = True
        rendered = fixture("telegram", "my_chat_member_kicked")
        rendered["update_id"] = 500000000 + next(self.ids)
        rendered["my_chat_member"]["chat"]["id"] = int(uid)
        rendered["my_chat_member"]["from"]["id"] = int(uid)
        return rendered

    def render_start(self, uid: str, payload: str, handle: str):
        """The user opens the bot's deep link: /start <payload>."""
        user = self.user("telegram", uid)
        user.update(started=True, blocked=False, last_inbound=self.now())
        rendered = fixture("telegram", "start_deep_link")
        rendered["update_id"] = 600000000 + next(self.ids)
        msg = rendered["message"]
        msg["chat"]["id"] = msg["from"]["id"] = int(uid)
        msg["from"]["username"] = msg["chat"]["username"] = handle
        msg["text"], msg["date"] = f"/start {payload}".strip(), int(self.now())
        return rendered


class TelegramRoutes(Routes):
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
