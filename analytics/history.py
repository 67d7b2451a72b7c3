"""A campaign's history as people read it: each audit code (core/audit.py) as a sentence."""

from __future__ import annotations

from core.audit import AuditEntry

# {who} is the person who acted ("system" when the engine did it).
SENTENCES = {
    "campaign.create": "{who} created the campaign",
    "campaign.enrol": "{who} enrolled contacts",
    "campaign.launch": "{who} launched the campaign",
    "campaign.pause": "{who} paused the campaign",
    "campaign.resume": "{who} resumed the campaign",
    "campaign.finish": "The campaign finished",
    "campaign.step_change": "{who} changed a step",
    "campaign.template_version": "{who} published a new version of a template it sends",
}


def event_sentence(entry: AuditEntry) -> str:
    """The sentence for one entry, its detail in brackets; a code without a sentence yet is
    shown as it is rather than hidden."""
    who = entry.actor.get_username() if entry.actor else "system"
    text = SENTENCES.get(entry.action, "{who}: " + entry.action).format(who=who)
    return f"{text} ({entry.detail})" if entry.detail else text
