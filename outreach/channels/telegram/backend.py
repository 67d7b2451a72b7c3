"""Telegram Bot API (docs/channels.md#telegram).

A bot cannot write first: the contact opens t.me/<bot>?start=<token> (the token names the
contact), which binds their chat id; after that the bot may write until it is blocked.
"""

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import httpx
from django.utils.crypto import constant_time_compare, salted_hmac

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
)

# attachment type -> (Bot API method, field)
METHODS = {
    "image": ("sendPhoto", "photo"),
    "video": ("sendVideo", "video"),
    "audio": ("sendAudio", "audio"),
    "voice": ("sendVoice", "voice"),
    "gif": ("sendAnimation", "animation"),
    "file": ("sendDocument", "document"),
}
# Which attachments sendMediaGroup may put in one album: photos and videos mix; files and
# audio tracks only group with their own kind; voice notes and GIFs always go alone.
ALBUMS = {"image": "visual", "video": "visual", "file": "document", "audio": "audio"}
# Message contents with neither text nor a file we keep: named in the stored text instead.
SHOWN_KINDS = ("sticker", "video_note", "location", "venue", "contact", "poll", "dice")


def start_token(contact_id: int) -> str:
    """Deep-link payload naming a contact: <=64 chars of [A-Za-z0-9_-], unguessable."""
    mac = salted_hmac("telegram-start", str(contact_id)).hexdigest()[:20]
    return f"c{contact_id}_{mac}"


def contact_id_from_token(token: str) -> int | None:
    head, _, mac = token.partition("_")
    if not head.startswith("c") or not head[1:].isdigit():
        return None
    contact_id = int(head[1:])
    return contact_id if constant_time_compare(token, start_token(contact_id)) and mac else None


def deep_link(bot_username: str, contact_id: int) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={start_token(contact_id)}"


def telegram_error(response: httpx.Response) -> ChannelError:
    data = http.json_or_empty(response)
    code = data.get("error_code") or response.status_code
    text = data.get("description") or response.text[:200]
    tag = f"telegram_{code}"
    low = text.lower()
    if code == 429:
        wait = (data.get("parameters") or {}).get("retry_after", 30)
        return RateLimited(text, retry_after=float(wait), code=tag)
    if code == 401:
        return AuthExpired(text, code=tag)
    if code == 403 and "initiate" in low:
        return PolicyWindowClosed(text, code=tag)
    if code == 403 or "chat not found" in low:
        return RecipientUnreachable(text, code=tag)
    if code >= 500:
        return Ambiguous(text, code=tag)
    return Permanent(text, code=tag)


class TelegramChannel(BaseChannel):
    # An Update names the chat, never the bot, and update_id counts per bot.
    account_webhooks = True

    def __init__(self, *, channel: str, **options: Any) -> None:
        super().__init__(channel=channel, **options)
        self.base_url = (options.get("base_url") or "https://api.telegram.org").rstrip("/")
        self.secret_token = options.get("secret_token", "")
        self.timeout = float(options.get("timeout", 10.0))

    def check_policy(self, context: PolicyContext) -> PolicyDecision:
        if context.recipient_platform_id:
            return ALLOWED
        return policy.hold(
            "the contact has not started the bot yet (send them the t.me deep link)", context.now
        )

    def send(self, message: OutgoingMessage) -> str:
        """One Bot API call per part; several photos/videos (or several files, or several
        audio tracks) go as one album through sendMediaGroup, as Telegram shows them."""
        media = [a for a in message.attachments if a.get("url") and a.get("type") in METHODS]
        parts = self.payloads(message.recipient_platform_id, message.body, media)
        first = ""
        for n, (method, payload) in enumerate(parts):
            try:
                mid = self._call(message, method, payload)
            except ChannelError as exc:
                if n == 0:
                    raise
                raise Ambiguous(f"partly sent ({n} of {len(parts)} parts): {exc.reason}") from exc
            first = first or mid
        return first

    @staticmethod
    def payloads(
        chat: str, text: str, media: list[dict[str, Any]]
    ) -> list[tuple[str, dict[str, Any]]]:
        if not media:
            return [("sendMessage", {"chat_id": chat, "text": text})]
        groups: list[list[dict[str, Any]]] = []
        for a in media:
            album = ALBUMS.get(a["type"])
            last = groups[-1] if groups else None
            if album and last and ALBUMS.get(last[0]["type"]) == album and len(last) < 10:
                last.append(a)
            else:
                groups.append([a])
        parts = []
        caption = text
        for group in groups:
            if len(group) == 1:
                method, fieldname = METHODS[group[0]["type"]]
                payload: dict[str, Any] = {"chat_id": chat, fieldname: group[0]["url"]}
                if caption:
                    payload["caption"], caption = caption, ""
                parts.append((method, payload))
                continue
            items = [{"type": METHODS[a["type"]][1], "media": a["url"]} for a in group]
            if caption:  # an album's caption is the first item's
                items[0]["caption"], caption = caption, ""
            parts.append(("sendMediaGroup", {"chat_id": chat, "media": items}))
        return parts

    def _call(self, message: OutgoingMessage, method: str, payload: dict[str, Any]) -> str:
        chat = payload["chat_id"]
        r = http.request(
            "POST",
            f"{self.base_url}/bot{message.sender_credentials}/{method}",
            json=payload,
            timeout=self.timeout,
        )
        data = http.json_or_empty(r)
        if r.status_code == 200 and data.get("ok"):
            result = data["result"]
            first = result[0] if isinstance(result, list) else result  # albums return a list
            # message_id is unique per chat only.
            return f"{chat}:{first['message_id']}"
        raise telegram_error(r)

    # --- inbound ---------------------------------------------------------------------

    def verify_headers(self, headers: Mapping[str, str]) -> bool:
        return http.same(headers.get("X-Telegram-Bot-Api-Secret-Token", ""), self.secret_token)

    def verify_signature(self, headers: Mapping[str, str], body: bytes) -> bool:
        return self.verify_headers(headers)  # Telegram signs nothing: the secret is the check

    def parse_webhook(self, body: bytes) -> list[InboundItem]:
        update = json.loads(body)
        event_id = str(update.get("update_id"))
        member = update.get("my_chat_member")
        if member:
            chat = str((member.get("chat") or {}).get("id", ""))
            status = (member.get("new_chat_member") or {}).get("status")
            kind = "blocked" if status == "kicked" else "ignored"
            return [InboundItem(kind=kind, event_id=event_id, from_id=chat)]
        if update.get("message"):
            return [self._message_item(event_id, update["message"])]
        if update.get("edited_message"):
            edited = update["edited_message"]
            item = self._message_item(event_id, edited)
            # An edit is never a second reply, and an edited "/start" never a second start.
            text = edited.get("text") or edited.get("caption") or item.text
            command = "start" if item.kind == "start" else ""
            return [
                dataclasses.replace(item, kind="edited", text=text, start_token="", subtype=command)
            ]
        if update.get("callback_query"):
            return [self._callback_item(event_id, update["callback_query"])]
        if update.get("message_reaction"):
            return [self._reaction_item(event_id, update["message_reaction"])]
        # A kind we do not handle (channel_post, poll_answer, ...): stored and logged.
        name = next((k for k in update if k != "update_id"), "?")
        return [InboundItem(kind="unknown", event_id=event_id, subtype=str(name)[:64])]

    @staticmethod
    def _message_item(event_id: str, msg: dict[str, Any]) -> InboundItem:
        chat = str((msg.get("chat") or {}).get("id", ""))
        sender = msg.get("from") or {}
        text = msg.get("text") or msg.get("caption") or ""
        common: dict[str, Any] = {
            "event_id": event_id,
            "from_id": chat,
            "from_handle": sender.get("username", ""),
            "name": " ".join(filter(None, [sender.get("first_name"), sender.get("last_name")])),
            "occurred_at": float(msg["date"]) if msg.get("date") else None,
            # As we store our own: message_id is unique per chat only.
            "message_id": f"{chat}:{msg['message_id']}" if msg.get("message_id") else "",
        }
        command, _, argument = text.partition(" ")
        if command.partition("@")[0] == "/start":  # "/start@bot" in a group
            return InboundItem(kind="start", start_token=argument.strip(), **common)
        reply = msg.get("reply_to_message") or {}
        attachments = [
            {"type": kind, "file_id": (msg[kind][-1] if kind == "photo" else msg[kind])["file_id"]}
            for kind in ("photo", "video", "voice", "audio", "document", "animation")
            if msg.get(kind)
        ]
        # A sticker, a location or a contact card has no text: say what came, as for media,
        # so the inbox never shows an empty message.
        shown = [a["type"] for a in attachments] or [k for k in SHOWN_KINDS if msg.get(k)]
        return InboundItem(
            kind="message",
            text=text or (f"[{shown[0]}]" if shown else ""),
            refers_to=[f"{chat}:{reply['message_id']}"] if reply.get("message_id") else [],
            attachments=attachments,
            **common,
        )

    @staticmethod
    def _callback_item(event_id: str, query: dict[str, Any]) -> InboundItem:
        """A press on an inline button under one of our messages: the contact's choice."""
        msg = query.get("message") or {}
        chat = str((msg.get("chat") or {}).get("id", "") or (query.get("from") or {}).get("id", ""))
        sender = query.get("from") or {}
        data = str(query.get("data") or "")
        title = next(
            (
                str(button.get("text", ""))
                for row in (msg.get("reply_markup") or {}).get("inline_keyboard") or []
                for button in row
                if isinstance(button, dict) and button.get("callback_data") == data
            ),
            "",
        )
        return InboundItem(
            kind="message",
            event_id=event_id,
            from_id=chat,
            from_handle=sender.get("username", ""),
            name=" ".join(filter(None, [sender.get("first_name"), sender.get("last_name")])),
            text=title or data,
            refers_to=[f"{chat}:{msg['message_id']}"] if msg.get("message_id") else [],
            payload={"button": data} | ({"title": title} if title else {}),
            callback_query_id=str(query.get("id") or ""),
        )

    @staticmethod
    def _reaction_item(event_id: str, reaction: dict[str, Any]) -> InboundItem:
        chat = str((reaction.get("chat") or {}).get("id", ""))
        new = [
            r.get("emoji") or r.get("custom_emoji_id") or ""
            for r in reaction.get("new_reaction") or []
        ]
        return InboundItem(
            kind="reaction",
            event_id=event_id,
            from_id=chat,
            emoji=" ".join(filter(None, new)),
            action="react" if new else "unreact",
            refers_to=[f"{chat}:{reaction['message_id']}"] if reaction.get("message_id") else [],
            occurred_at=float(reaction["date"]) if reaction.get("date") else None,
        )

    def answer_callback(self, *, credentials: str, callback_query_id: str) -> None:
        """Stop the spinner on the button the contact pressed (Telegram asks for an answer to
        every callback query, even an empty one)."""
        r = http.request(
            "POST",
            f"{self.base_url}/bot{credentials}/answerCallbackQuery",
            json={"callback_query_id": callback_query_id},
            timeout=self.timeout,
        )
        if r.status_code != 200 or not http.json_or_empty(r).get("ok"):
            raise telegram_error(r)

    def media_source(self, *, credentials: str, attachment: dict[str, Any]) -> MediaSource | None:
        """getFile names the file's path; the file is then at /file/bot<token>/<file_path>
        (Bot API "getFile": bots download files up to 20 MB, the link lasts an hour)."""
        file_id = attachment.get("file_id")
        if not file_id:
            return None
        r = http.request(
            "POST",
            f"{self.base_url}/bot{credentials}/getFile",
            json={"file_id": str(file_id)},
            timeout=self.timeout,
        )
        data = http.json_or_empty(r)
        if r.status_code != 200 or not data.get("ok"):
            raise telegram_error(r)
        result = data.get("result") or {}
        path = str(result.get("file_path") or "")
        if not path:
            raise Permanent("getFile named no file_path: the file cannot be downloaded")
        size = result.get("file_size")
        return MediaSource(
            url=f"{self.base_url}/file/bot{credentials}/{path}",
            size=size if isinstance(size, int) else 0,
            name=path.rsplit("/", 1)[-1],
        )
