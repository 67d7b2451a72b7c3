"""WhatsApp Cloud API (docs/channels.md#whatsapp).

Free-form messages inside the 24 h customer-service window; outside it only an approved
template. A 200 means "accepted": delivery, reads and late failures arrive as status
webhooks, which the inbound processing applies to the message.
"""

import json
from typing import Any

import httpx

from outreach import policy
from outreach.channels import http
from outreach.channels.base import (
    ALLOWED,
    Ambiguous,
    AuthExpired,
    Bounced,
    ChannelError,
    InboundItem,
    MediaSource,
    OutgoingMessage,
    Permanent,
    PolicyContext,
    PolicyDecision,
    PolicyWindowClosed,
    RateLimited,
    RecipientLimited,
    RecipientUnreachable,
    Transient,
)
from outreach.channels.meta.backend import MetaChannel, unknown_item

RATE = {4: 60.0, 80007: 300.0, 130429: 5.0, 131056: 6.0, 131048: 3600.0}
UNREACHABLE = {131050, 130472}
# Readable reasons for the two answers a rep sees most (docs/deliverability.md#whatsapp).
ECOSYSTEM = "Meta limits how many marketing messages this person receives (131049)"
NOT_ON_WHATSAPP = (
    "not reachable on WhatsApp (131026: not a WhatsApp number, an old app version, or the "
    "terms not accepted): no more WhatsApp messages to this number"
)
AUTH = {0, 190, 131031, 368}
TRANSIENT = {1, 2, 131000, 131016, 131057}
MEDIA = {"image": "image", "gif": "image", "video": "video", "audio": "audio"}
MEDIA |= {"voice": "audio", "file": "document", "document": "document", "sticker": "sticker"}


def whatsapp_error(code: int | None, text: str, *, http_status: int = 400) -> ChannelError:
    tag = f"whatsapp_{code}"
    if code == 131049:  # per person, not per sender: only this message waits
        reason = f"{ECOSYSTEM}: tried once more after 24 h. {text}"
        return RecipientLimited(reason, retry_after=86400.0, code=tag)
    if code == 131026:  # like a hard bounce: the number is suppressed for WhatsApp
        return Bounced(f"{NOT_ON_WHATSAPP}. {text}", code=tag)
    if code in RATE:
        return RateLimited(text, retry_after=RATE[code], code=tag)
    if code == 131047:
        return PolicyWindowClosed(f"{text} (needs an approved template)", code=tag)
    if code in UNREACHABLE:
        return RecipientUnreachable(text, code=tag)
    if code in AUTH:
        return AuthExpired(text, code=tag)
    if code in TRANSIENT:
        return Transient(text, code=tag)
    if http_status >= 500:
        return Ambiguous(text, code=tag)
    return Permanent(text, code=tag)


def _error(response: httpx.Response) -> ChannelError:
    err = http.json_or_empty(response).get("error") or {}
    details = (err.get("error_data") or {}).get("details", "")
    text = f"{err.get('message') or response.text[:200]} {details}".strip()
    return whatsapp_error(err.get("code"), text, http_status=response.status_code)


class WhatsAppChannel(MetaChannel):
    default_base_url = "https://graph.facebook.com"
    webhook_object = "whatsapp_business_account"

    def check_policy(self, context: PolicyContext) -> PolicyDecision:
        template = policy.template_of(context.attachments)
        if template and policy.us_marketing(template, context.recipient):
            return PolicyDecision(allowed=False, reason=policy.US_MARKETING_PAUSED)
        if policy.window_open(context.last_inbound_at, context.now, policy.STANDARD_WINDOW):
            return ALLOWED
        if template:
            return ALLOWED
        return policy.hold(
            "outside WhatsApp's 24 h customer-service window: needs an approved template",
            context.now,
        )

    def send(self, message: OutgoingMessage) -> str:
        parts = self.whatsapp_payloads(message)
        # WhatsApp echoes biz_opaque_callback_data in the status webhooks of that message.
        # On the last part it says "the whole message went out", so a send whose answer
        # was lost is settled by its `sent` status instead of going to human review.
        parts[-1] = parts[-1] | {"biz_opaque_callback_data": message.idempotency_key}
        first = ""
        for n, payload in enumerate(parts):
            try:
                wamid = self._post_wa(message, payload)
            except ChannelError as exc:
                if n == 0:
                    raise
                raise Ambiguous(f"partly sent ({n} of {len(parts)} parts): {exc.reason}") from exc
            first = first or wamid
        return first

    def whatsapp_payloads(self, message: OutgoingMessage) -> list[dict[str, Any]]:
        base = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.recipient_platform_id or message.recipient.lstrip("+"),
        }
        template = policy.template_of(message.attachments)
        if template:
            params = [{"type": "text", "text": str(p)} for p in template.get("params", [])]
            named = template.get("named_params") or {}  # templates with named variables
            params += [
                {"type": "text", "parameter_name": str(k), "text": str(v)} for k, v in named.items()
            ]
            body: dict[str, Any] = {
                "name": template["name"],
                "language": {"policy": "deterministic", "code": template.get("language", "en")},
            }
            if params:
                body["components"] = [{"type": "body", "parameters": params}]
            return [base | {"type": "template", "template": body}]
        media = [a for a in message.attachments if a.get("url") and a.get("type") in MEDIA]
        parts = []
        caption = message.body
        for a in media:
            kind = MEDIA[a["type"]]
            obj: dict[str, Any] = {"link": a["url"]}
            if caption and kind in ("image", "video", "document"):
                obj["caption"], caption = caption, ""
            if kind == "document" and a.get("name"):
                obj["filename"] = a["name"]
            parts.append(base | {"type": kind, kind: obj})
        if caption:
            text = {"body": caption, "preview_url": "http" in caption}
            parts.insert(0, base | {"type": "text", "text": text})
        return parts

    def _post_wa(self, message: OutgoingMessage, payload: dict[str, Any]) -> str:
        r = http.request(
            "POST",
            f"{self.base_url}/{self.api_version}/{message.sender_handle}/messages",
            headers={"Authorization": f"Bearer {message.sender_credentials}"},
            json=payload,
            timeout=self.timeout,
        )
        if r.status_code == 200:
            return str(r.json()["messages"][0]["id"])
        raise _error(r)

    def media_source(self, *, credentials: str, attachment: dict[str, Any]) -> MediaSource | None:
        """Cloud API "Retrieve media URL": GET /<media-id> with the token answers the file's
        url (valid a few minutes), mime_type and file_size; the url needs the token too."""
        media_id = attachment.get("media_id")
        if not media_id:
            return None
        auth = {"Authorization": f"Bearer {credentials}"}
        r = http.request(
            "GET",
            f"{self.base_url}/{self.api_version}/{media_id}",
            headers=auth,
            timeout=self.timeout,
        )
        if r.status_code != 200:
            raise _error(r)
        data = http.json_or_empty(r)
        url = str(data.get("url") or "")
        if not url:
            raise Permanent("the media id lookup named no url")
        size = str(data.get("file_size") or "")  # a string in the Cloud API's answer
        return MediaSource(
            url=url,
            headers=auth,
            size=int(size) if size.isdigit() else 0,
            content_type=str(data.get("mime_type") or ""),
        )

    # --- inbound ---------------------------------------------------------------------

    def parse_webhook(self, body: bytes) -> list[InboundItem]:
        data = json.loads(body)
        items = []
        for entry in data.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                account = str((value.get("metadata") or {}).get("phone_number_id", ""))
                names = {
                    c.get("wa_id"): (c.get("profile") or {}).get("name", "")
                    for c in value.get("contacts") or []
                }
                for msg in value.get("messages") or []:
                    items.append(self._message_item(account, msg, names))
                for status in value.get("statuses") or []:
                    items.append(self._status_item(account, status))
                if not value.get("messages") and not value.get("statuses"):
                    # Another field (template status, account update, ...): stored and
                    # logged, never dropped unseen.
                    items.append(unknown_item(account, "", change))
        return items

    def _message_item(self, account: str, msg: dict[str, Any], names: dict) -> InboundItem:
        kind = msg.get("type", "")
        if kind == "system":
            system = msg.get("system") or {}
            if system.get("type") != "user_changed_number" or not system.get("wa_id"):
                return InboundItem(kind="ignored", event_id="")
            old = str(msg.get("from", ""))
            return InboundItem(
                kind="number_changed",
                event_id=f"number_changed:{msg.get('id')}",
                account_id=account,
                from_id=old,
                from_handle=f"+{old}" if old else "",
                new_id=str(system["wa_id"]),
            )
        content = msg.get(kind)
        if not isinstance(content, dict):
            content = {}
        sender = str(msg.get("from", ""))
        ts = msg.get("timestamp")
        if kind in ("edit", "revoke") and content.get("original_message_id"):
            # The contact edited or deleted an earlier message: never a new reply. An edit
            # carries the new message whole (text or caption).
            original = str(content["original_message_id"])
            edited = content.get("message")
            edited = edited if isinstance(edited, dict) else {}
            new = edited.get(str(edited.get("type", "")))
            new = new if isinstance(new, dict) else {}
            return InboundItem(
                kind="edited" if kind == "edit" else "deleted",
                # As Meta's unsends: a message processed after its unsend finds it by this id.
                event_id=f"edit:{msg.get('id')}" if kind == "edit" else f"deleted:{original}",
                account_id=account,
                from_id=sender,
                text=str(new.get("body") or new.get("caption") or "") if kind == "edit" else "",
                message_id=original,
                occurred_at=float(ts) if ts else None,
            )
        if kind == "reaction":
            # An emoji on one of our messages (no emoji: taken back) is not an answer: it
            # neither stops a sequence nor reaches the intent classifier. Kept raw.
            return InboundItem(
                kind="reaction",
                event_id=str(msg.get("id")),
                account_id=account,
                from_id=sender,
                text=str(content.get("emoji") or ""),
                emoji=str(content.get("emoji") or ""),
                action="react" if content.get("emoji") else "unreact",
                occurred_at=float(msg["timestamp"]) if msg.get("timestamp") else None,
                refers_to=[str(content["message_id"])] if content.get("message_id") else [],
            )
        text = content.get("body") or content.get("caption") or ""
        payload: dict[str, Any] = {}
        if kind == "button":  # a template's quick-reply button
            text = content.get("text", "")
            if content.get("payload"):
                payload = {"button": str(content["payload"]), "title": str(text)}
        if kind == "interactive":  # a reply button or list row: its title is what they chose
            choice = content.get(str(content.get("type", ""))) or {}
            text = str(choice.get("title", "")) if isinstance(choice, dict) else ""
            if isinstance(choice, dict) and choice.get("id"):
                payload = {"button": str(choice["id"]), "title": text}
        attachments = []
        if kind in ("image", "video", "audio", "document", "sticker"):
            attachments.append({"type": kind, "media_id": content.get("id", "")})
        if kind == "unsupported" or (not text and not attachments):
            text = text or f"[{kind} message]"
        context_id = (msg.get("context") or {}).get("id")
        return InboundItem(
            kind="message",
            event_id=str(msg.get("id")),
            account_id=account,
            from_id=sender,
            from_handle=f"+{sender}" if sender else "",
            name=names.get(sender, ""),
            text=text,
            refers_to=[context_id] if context_id else [],
            attachments=attachments,
            occurred_at=float(ts) if ts else None,
            message_id=str(msg.get("id") or ""),
            payload=payload,
            referral=_referral(msg.get("referral")),
        )

    def _status_item(self, account: str, status: dict[str, Any]) -> InboundItem:
        state = status.get("status", "")
        errors = status.get("errors") or [{}]
        ts = status.get("timestamp")
        kind = {"delivered": "delivered", "read": "read", "played": "read", "failed": "failed"}
        key = str(status.get("biz_opaque_callback_data") or "")[:64]
        if key:  # `sent` matters only to settle a send whose answer we never got
            kind["sent"] = "sent"
        return InboundItem(
            kind=kind.get(state, "ignored"),
            event_id=f"{status.get('id')}:{state}",
            account_id=account,
            from_id=str(status.get("recipient_id", "")),
            refers_to=[str(status.get("id"))],
            callback_key=key,
            error_code=str(errors[0].get("code", "")) if state == "failed" else "",
            error=(errors[0].get("error_data") or {}).get("details") or errors[0].get("title", "")
            if state == "failed"
            else "",
            occurred_at=float(ts) if ts else None,
        )


def _referral(ref: object) -> dict[str, Any]:
    """A Click-to-WhatsApp ad (or a Facebook post's button) the person came from: the
    message's ``referral`` object (source_type "ad" or "post", source_id, source_url,
    headline, body, ctwa_clid). Kept under the keys Meta's Messenger referrals use too
    (outreach/channels/meta/backend.py), which triggers match and tag on: ``ad_id`` and
    ``ad_title``; ``ctwa_clid`` is the click id Meta's conversions API wants back."""
    if not isinstance(ref, dict) or not (ref.get("source_id") or ref.get("source_url")):
        return {}
    keep = {
        "source": ref.get("source_type"),
        "ad_id": ref.get("source_id"),
        "ad_title": ref.get("headline"),
        "ad_body": ref.get("body"),
        "source_url": ref.get("source_url"),
        "ctwa_clid": ref.get("ctwa_clid"),
    }
    return {k: str(v)[:500] for k, v in keep.items() if v}
