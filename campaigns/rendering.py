"""Rendering message templates for one contact.

Django's template language with a restricted context: only plain strings and dicts are
passed in, so a template cannot reach model methods, other records, secrets or settings.
Spintax ({Hi|Hello}) is resolved first, deterministically per contact, so a preview shows
exactly what will be sent.
"""

import hashlib
import re
from functools import lru_cache

from django.template import Context, Engine
from django.template import Template as DjangoTemplate

from contacts.models import Contact, Identity
from outreach.models import SenderAccount

MAX_OUTPUT = 20_000
_ENGINE = Engine(autoescape=False, debug=False, libraries={}, loaders=[])
_SPIN = re.compile(r"\{([^{}]*\|[^{}]*)\}")


def stable_choice(options: list[str], seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


def resolve_spintax(text: str, seed: str) -> str:
    # Innermost groups first, so nested spintax works; {{ var }} has no "|" at depth one
    # unless it is a filter, which lives inside double braces and is protected below.
    def pick(match: re.Match) -> str:
        return stable_choice(match.group(1).split("|"), f"{seed}:{match.start()}")

    protected = re.split(r"(\{\{.*?\}\}|\{%.*?%\})", text, flags=re.S)
    out = []
    for i, part in enumerate(protected):
        if i % 2:
            out.append(part)
            continue
        previous = None
        while previous != part:
            previous, part = part, _SPIN.sub(pick, part)
        out.append(part)
    return "".join(out)


@lru_cache(maxsize=512)
def _compile(text: str) -> DjangoTemplate:
    return _ENGINE.from_string(text)


def contact_context(
    *,
    contact: Contact,
    identity: Identity | None,
    sender: SenderAccount | None,
    campaign_name: str = "",
) -> dict:
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": contact.full_name,
        "company": contact.company,
        "title": contact.title,
        "country": contact.country,
        "custom": {str(k): str(v) for k, v in (contact.custom_fields or {}).items()},
        "handle": identity.value if identity else "",
        "sender_name": sender.name if sender else "",
        "campaign_name": campaign_name,
    }


def render(text: str, context: dict, *, seed: str) -> str:
    if not text:
        return ""
    output = _compile(resolve_spintax(text, seed)).render(Context(context, autoescape=False))
    return output[:MAX_OUTPUT]
