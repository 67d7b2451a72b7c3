"""A WhatsApp template step's variables filled from the contact: the template attachment's
``variables`` maps each of the template's variables ({{1}}, {{2}} or named ones, as synced
into deliverability.WhatsAppTemplate.variables) to a contact field of the rendering context
(campaigns/rendering.py: first_name, company, …). Positional ones become ``params`` in
order, named ones ``named_params``; outreach/channels/whatsapp/backend.py sends both."""

from typing import Any

from campaigns.rendering import CONTACT_FIELDS

# The contact fields a variable may be mapped to (the mapping form offers these).
FIELD_CHOICES = [*CONTACT_FIELDS, "full_name", "sender_name", "campaign_name"]


def whatsapp_params(attachments: list[dict[str, Any]], ctx: dict[str, str]) -> list[dict]:
    """The attachments with each template's mapped variables filled for this contact."""
    out = []
    for a in attachments:
        mapping = a.get("variables") if a.get("type") == "template" else None
        if not isinstance(mapping, dict) or not mapping:
            out.append(a)
            continue
        values = {str(k): str(ctx.get(str(field), "")) for k, field in mapping.items()}
        positional = sorted((k for k in values if k.isdigit()), key=int)
        filled = dict(a)
        if positional:
            filled["params"] = [values[k] for k in positional]
        named = {k: v for k, v in values.items() if not k.isdigit()}
        if named:
            filled["named_params"] = named
        out.append(filled)
    return out
