"""A WhatsApp template step's variables filled from the contact.

Two ways a message carries a template: the campaigns Template's own attachment
{"type": "template", "name", "language", "category", "variables": {"1": "first_name"}}, or
the step's synced WABA template (Step.whatsapp_template, deliverability.WhatsAppTemplate)
with its mapping on the step (Step.whatsapp_variables: {"1": {"source", "text",
"fallback"}}). Either way each variable ({{1}}, {{2}} or named ones, as synced into
WhatsAppTemplate.variables) gets a value from the rendering context (campaigns/rendering.py:
first_name, company, custom.<key>, …); positional ones become ``params`` in order, named ones
``named_params``, which outreach/channels/whatsapp/backend.py sends as the Graph API's
``template.components[].parameters``."""

import re
from typing import Any

from campaigns.rendering import CONTACT_FIELDS
from deliverability.models import WhatsAppTemplate

# The contact fields a variable may be mapped to (the mapping form offers these).
FIELD_CHOICES = [*CONTACT_FIELDS, "full_name", "sender_name", "campaign_name"]
CUSTOM, TEXT = "custom", "text"
# What the step's mapping offers, in the order the builder lists them.
SOURCES = [
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("full_name", "Full name"),
    ("company", "Company"),
    ("title", "Title"),
    (CUSTOM, "Custom field (its key)"),
    (TEXT, "Fixed text"),
]
SOURCE_KEYS = {k for k, _ in SOURCES}
VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def variable_value(rule: object, ctx: dict[str, str]) -> str:
    """One variable's value for this contact: a field name (the attachment's form) or a
    step rule {"source", "text", "fallback"}; the fallback when the field is empty (Meta
    refuses an empty parameter)."""
    if not isinstance(rule, dict):
        return str(ctx.get(str(rule), ""))
    source, text = str(rule.get("source") or ""), str(rule.get("text") or "")
    if source == TEXT:
        value = text
    elif source == CUSTOM:
        value = str(ctx.get(f"custom.{text.strip()}", ""))
    else:
        value = str(ctx.get(source, ""))
    return value if value.strip() else str(rule.get("fallback") or "")


def whatsapp_params(attachments: list[dict[str, Any]], ctx: dict[str, str]) -> list[dict]:
    """The attachments with each template's mapped variables filled for this contact."""
    out = []
    for a in attachments:
        mapping = a.get("variables") if a.get("type") == "template" else None
        if not isinstance(mapping, dict) or not mapping:
            out.append(a)
            continue
        values = {str(k): variable_value(rule, ctx) for k, rule in mapping.items()}
        positional = sorted((k for k in values if k.isdigit()), key=int)
        filled = dict(a)
        if positional:
            filled["params"] = [values[k] for k in positional]
        named = {k: v for k, v in values.items() if not k.isdigit()}
        if named:
            filled["named_params"] = named
        out.append(filled)
    return out


def waba_attachment(template: WhatsAppTemplate, mapping: dict[str, Any]) -> dict[str, Any]:
    """The template attachment of a step that sends a synced WABA template: its category
    as Meta has it now (the policy gate and the forecast read it)."""
    return {
        "type": "template",
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "variables": {v: mapping.get(v) or {"source": TEXT} for v in template.variables},
    }


def with_waba(attachments: list[dict[str, Any]], waba: dict[str, Any] | None) -> list[dict]:
    """The attachments a message of this route carries: the step's WABA template in place
    of any template attachment of the campaigns Template."""
    if waba is None:
        return list(attachments)
    return [waba, *(a for a in attachments if a.get("type") != "template")]


def template_body(template: WhatsAppTemplate) -> str:
    body: dict[str, Any] = next(
        (c for c in template.components if str(c.get("type")).upper() == "BODY"), {}
    )
    return str(body.get("text") or "")


def filled_body(template: WhatsAppTemplate, filled: list[dict[str, Any]]) -> str:
    """The template's BODY text as this contact receives it (kept as the message's text,
    so the inbox shows what was sent)."""
    attachment = next((a for a in filled if a.get("type") == "template"), {})
    params = attachment.get("params") or []
    named = attachment.get("named_params") or {}

    def value(m: re.Match) -> str:
        key = m.group(1)
        if key.isdigit() and 0 < int(key) <= len(params):
            return str(params[int(key) - 1])
        return str(named.get(key, m.group(0)))

    return VARIABLE.sub(value, template_body(template))
