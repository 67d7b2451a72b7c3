"""WhatsApp Cloud API on the fake server: sends on the Graph host (free-form only inside
the 24 h window, templates any time; the outcome follows as status webhooks) and media by
id (docs/channels.md#whatsapp)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time

from fakeplatform.common import DAY, VERSIONS, Routes, State, bearer, fixture
from fakeplatform.server import Handler

WA_TEMPLATES = re.compile(r"^/(v[\d.]+)/(\w+)/message_templates$")


class WhatsAppState(State):
    def say_whatsapp(self, user: str, account: str, text: str, reply_to: str):
        ts = self.now()
        n = next(self.ids)
        body = fixture("whatsapp", "inbound_reply_with_context" if reply_to else "inbound_text")
        value = body["entry"][0]["changes"][0]["value"]
        value["metadata"]["phone_number_id"] = account
        value["contacts"][0]["wa_id"] = user
        msg = value["messages"][0]
        msg.update({"from": user, "id": f"wamid.FAKEIN{n}", "timestamp": str(int(ts))})
        msg["text"] = {"body": text}
        if reply_to:
            msg["context"]["id"] = reply_to
        return body

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


class WhatsAppRoutes(Routes):
    def _whatsapp_graph(self, handler: Handler, version: str, account: str, body) -> None:
        """POST /{version}/{phone number id}/messages with messaging_product "whatsapp"."""
        token = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        if version not in VERSIONS:
            return self._fail(handler, fixture("messenger", "errors")["unknown_version"])
        if not token or token == "expired":
            return self._fail(handler, fixture("whatsapp", "errors")["token_expired"])
        if error := self.platforms.take_error("whatsapp"):
            return self._fail(handler, error)
        return self._whatsapp(handler, account, token, body)

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
        elif body["type"] == "template" and user.get("marketing_limited", 0) > 0:
            # Meta's per-user marketing limit mostly shows as a late `failed` status.
            with p.lock:
                user["marketing_limited"] -= 1
            failure = errors["ecosystem_cap"]["body"]["error"]
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

    def _whatsapp_media_url(self, handler: Handler, version: str, ref: str) -> None:
        """Cloud API "Retrieve media URL": needs the bearer token; answers a short-lived url on
        Meta's CDN (here, on this server), which needs the token as well."""
        if version not in VERSIONS:
            return self._fail(handler, fixture("messenger", "errors")["unknown_version"])
        token = bearer(handler)
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
        if not bearer(handler):  # the media url is no public link
            return self._fail(handler, fixture("whatsapp", "errors")["auth_exception"])
        if record is None:
            handler._json(404, {"error": "not found"})
            return
        self._media_send(handler, record)

    def _whatsapp_templates(self, handler: Handler, version: str, waba: str, query) -> None:
        """Business Management API "Get message templates": GET /{waba id}/message_templates,
        newest first, `limit` a page (default 25), cursor paging with `after` as Meta does:
        {"data": [...], "paging": {"cursors": {"before", "after"}, "next"}}."""
        if version not in VERSIONS:
            return self._fail(handler, fixture("messenger", "errors")["unknown_version"])
        token = bearer(handler)
        if not token or token == "expired":
            return self._fail(handler, fixture("whatsapp", "errors")["token_expired"])
        with self.platforms.lock:
            templates = list(self.platforms.wa_templates.get(waba, []))
        limit = int((query.get("limit") or ["25"])[0])
        after = (query.get("after") or [""])[0]
        start = int(base64.b64decode(after).decode()) if after else 0
        page = templates[start : start + limit]
        cursors = {
            "before": base64.b64encode(str(start).encode()).decode(),
            "after": base64.b64encode(str(start + len(page)).encode()).decode(),
        }
        paging: dict = {"cursors": cursors}
        if start + limit < len(templates):
            paging["next"] = (
                f"{self.url}/{version}/{waba}/message_templates?limit={limit}"
                f"&after={cursors['after']}"
            )
        handler._json(200, {"data": page, "paging": paging})

    def _whatsapp_phone_number(self, handler: Handler, version: str, ref: str, query) -> None:
        """GET /{phone number id}?fields=messaging_limit_tier (the WhatsApp Business Phone
        Number node): the unique users it may start conversations with per 24 h."""
        if version not in VERSIONS:
            return self._fail(handler, fixture("messenger", "errors")["unknown_version"])
        if not bearer(handler):
            return self._fail(handler, fixture("whatsapp", "errors")["token_expired"])
        with self.platforms.lock:
            tier = self.platforms.wa_tiers.get(ref, "TIER_250")
        handler._json(200, {"messaging_limit_tier": tier, "id": ref})
