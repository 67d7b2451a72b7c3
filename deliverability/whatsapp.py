"""Syncing a WhatsApp Business Account from Meta's Graph API: its message templates
(GET /{waba id}/message_templates, cursor-paginated) and its phone number's messaging tier
(GET /{phone number id}?fields=messaging_limit_tier). Run by the admin's "Sync templates"
action and daily by beat (deliverability/tasks.py); docs/deliverability.md#whatsapp."""

import re
from typing import Any

from django.db import transaction
from django.utils import timezone

from deliverability.models import WhatsAppAccount, WhatsAppTemplate
from outreach.channels import get_channel, http
from outreach.channels.base import ChannelError
from outreach.channels.whatsapp.backend import whatsapp_error

FIELDS = "id,name,language,category,status,components"
PAGE = 100
MAX_PAGES = 50
VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
# Unique users per 24 h by tier (Meta's messaging limits; TIER_1K was raised to 2,000).
TIERS: dict[str, int | None] = {
    "TIER_250": 250,
    "TIER_1K": 2000,
    "TIER_2K": 2000,
    "TIER_10K": 10000,
}
TIERS |= {"TIER_100K": 100000, "TIER_UNLIMITED": None}


def _graph() -> tuple[str, str, float]:
    backend = get_channel("whatsapp")
    base = getattr(backend, "base_url", "https://graph.facebook.com")
    return base, getattr(backend, "api_version", "v25.0"), getattr(backend, "timeout", 10.0)


def _get(url: str, token: str, timeout: float, params: dict | None = None) -> dict[str, Any]:
    r = http.request(
        "GET", url, headers={"Authorization": f"Bearer {token}"}, params=params, timeout=timeout
    )
    data = http.json_or_empty(r)
    if r.status_code != 200:
        err = data.get("error") or {}
        raise whatsapp_error(err.get("code"), str(err.get("message") or r.text[:200]))
    return data


def template_variables(components: list[dict[str, Any]]) -> list[str]:
    """The BODY's variables in order of first use: "1", "2" or named ones."""
    body = next((c for c in components if str(c.get("type")).upper() == "BODY"), {})
    return list(dict.fromkeys(VARIABLE.findall(str(body.get("text") or ""))))


def whatsapp_templates_sync(*, account: WhatsAppAccount) -> int:
    """Store every template the WABA lists now (and forget those it no longer lists);
    returns how many there are."""
    base, version, timeout = _graph()
    token = account.sender.credentials
    url: str | None = f"{base}/{version}/{account.waba_id}/message_templates"
    params: dict | None = {"fields": FIELDS, "limit": PAGE}
    rows: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        if not url:
            break
        data = _get(url, token, timeout, params)
        rows += [t for t in data.get("data") or [] if isinstance(t, dict)]
        url, params = (data.get("paging") or {}).get("next"), None  # next carries the cursor
    now = timezone.now()
    with transaction.atomic():
        keep = []
        for t in rows:
            components = t.get("components") or []
            obj, _ = WhatsAppTemplate.objects.update_or_create(
                account=account,
                name=str(t.get("name", ""))[:512],
                language=str(t.get("language", ""))[:20],
                defaults={
                    "meta_id": str(t.get("id", ""))[:64],
                    "category": str(t.get("category", "")).upper()[:20],
                    "status": str(t.get("status", "")).upper()[:20],
                    "components": components,
                    "variables": template_variables(components),
                    "synced_at": now,
                },
            )
            keep.append(obj.id)
        WhatsAppTemplate.objects.filter(account=account).exclude(id__in=keep).delete()
    return len(keep)


def whatsapp_tier_sync(*, account: WhatsAppAccount) -> str:
    base, version, timeout = _graph()
    data = _get(
        f"{base}/{version}/{account.sender.handle}",
        account.sender.credentials,
        timeout,
        {"fields": "messaging_limit_tier"},
    )
    tier = str(data.get("messaging_limit_tier") or "")
    WhatsAppAccount.objects.filter(id=account.id).update(
        tier=tier[:20], unique_users_per_day=TIERS.get(tier)
    )
    return tier


def whatsapp_account_sync(*, account: WhatsAppAccount) -> str:
    """Templates and tier; what went wrong is kept on the account and returned ("" if fine)."""
    try:
        whatsapp_templates_sync(account=account)
        whatsapp_tier_sync(account=account)
    except ChannelError as exc:
        WhatsAppAccount.objects.filter(id=account.id).update(sync_error=exc.reason[:300])
        return exc.reason
    WhatsAppAccount.objects.filter(id=account.id).update(synced_at=timezone.now(), sync_error="")
    return ""
