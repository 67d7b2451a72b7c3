"""Template versions and step changes: what each message was rendered from, and who changed
a running sequence.

Every edit of a template (the admin, with its variants inline; the editor at /templates/)
goes through `template_version_record` after the template is saved. A template has versions
v1, v2, ... Until anyone could have received it (no launched campaign uses the template, and
no message was rendered from its latest version) an edit rewrites that latest version, so
drafting and re-saving in the editor does not pile up versions nobody ever sent. From then on
the latest version is frozen: a change to what is sent (subject, body, attachments, a
variant's text) records the next number, and the dashboard history of each campaign using
the template says so. Messages already rendered keep their own text (Message.subject/body);
StepSend.template_version says which version they came from.

Steps are not versioned: a message's StepSend already names its step and template version,
and what a step change alters for later messages (template swap, delay, channel, condition)
is written to the audit trail of every launched campaign on the sequence, where the
dashboard's history shows it.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from campaigns.models import (
    Campaign,
    Sequence,
    Step,
    StepAlternative,
    StepSend,
    Template,
    TemplateVariant,
    TemplateVersion,
)
from core.audit import audit_record

CONTENT = ("subject", "body", "attachments", "variants")


def _variant_rows(variants: Iterable[TemplateVariant]) -> list[dict[str, Any]]:
    rows = [{"id": v.id, "label": v.label, "subject": v.subject, "body": v.body} for v in variants]
    return sorted(rows, key=lambda r: r["id"])


def _snapshot(template: Template, variants: Iterable[TemplateVariant]) -> dict[str, Any]:
    return {
        "subject": template.subject,
        "body": template.body,
        "attachments": template.attachments or [],
        "variants": _variant_rows(variants),
    }


def _content(version: TemplateVersion) -> dict[str, Any]:
    return {f: getattr(version, f) for f in CONTENT}


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _live(campaigns):
    """Campaigns someone could have been contacted by: launched once, whatever they are now."""
    return campaigns.filter(Q(launched_at__isnull=False) | ~Q(status=Campaign.Status.DRAFT))


def template_campaigns_live(*, template_id: int):
    """Launched campaigns that send this template, as a step's or as one of its channel
    alternatives'."""
    uses = Q(sequence__steps__template_id=template_id) | Q(
        sequence__steps__alternatives__template_id=template_id
    )
    return _live(Campaign.objects.filter(uses)).distinct()


def _frozen(version: TemplateVersion) -> bool:
    return (
        template_campaigns_live(template_id=version.template_id).exists()
        or StepSend.objects.filter(template_version=version).exists()
    )


def template_version_record(*, template: Template, actor=None) -> TemplateVersion:
    """The template's current version, after it (and its variants) were saved: the same one
    if nothing that is sent changed, the latest rewritten while nobody could have received
    it, else a new number."""
    with transaction.atomic():
        # One edit of a template at a time, and the text as committed (the caller's instance
        # may be older than the row, e.g. the dispatcher's).
        template = Template.objects.select_for_update().get(pk=template.pk)
        snapshot = _snapshot(template, TemplateVariant.objects.filter(template=template))
        latest = template.versions.order_by("-number").first()
        if latest is not None and _content(latest) == snapshot:
            return latest
        if latest is not None and not _frozen(latest):
            for field, value in snapshot.items():
                setattr(latest, field, value)
            latest.created_by, latest.created_at = _user(actor), timezone.now()
            latest.save()
            return latest
        version = TemplateVersion.objects.create(
            template=template,
            number=latest.number + 1 if latest else 1,
            created_by=_user(actor),
            **snapshot,
        )
        if latest is not None:
            changed = ", ".join(f for f in CONTENT if _content(latest)[f] != snapshot[f])
            detail = f"“{template.name}” is now {version.label} ({changed} changed)"
            audit_record(actor=actor, action="template.version", target=template, detail=detail)
            for campaign in template_campaigns_live(template_id=template.id):
                audit_record(
                    actor=actor, action="campaign.template_version", target=campaign, detail=detail
                )
        return version


def template_save(*, template: Template, actor=None) -> TemplateVersion:
    """Save an edited template and record its version (the editor outside the admin)."""
    with transaction.atomic():
        template.save()
        return template_version_record(template=template, actor=actor)


def current_versions(templates: Iterable[Template]) -> dict[int, TemplateVersion]:
    """The version each template sends now, by template id: two queries when every template
    is in step with its latest version. A template changed without going through
    template_version_record (a shell, a data fix) gets its version recorded here, so what is
    rendered is always what the version says."""
    by_id = {t.id: t for t in templates}
    if not by_id:
        return {}
    newest = TemplateVersion.objects.filter(template_id=OuterRef("template_id")).order_by("-number")
    latest = {
        v.template_id: v
        for v in TemplateVersion.objects.filter(
            template_id__in=by_id, number=Subquery(newest.values("number")[:1])
        )
    }
    variants: dict[int, list[TemplateVariant]] = defaultdict(list)
    for v in TemplateVariant.objects.filter(template_id__in=by_id):
        variants[v.template_id].append(v)
    out = {}
    for tid in sorted(by_id):  # templates locked in id order: two dispatchers cannot deadlock
        template, version = by_id[tid], latest.get(tid)
        if version is None or _content(version) != _snapshot(template, variants[tid]):
            version = template_version_record(template=template)
        out[tid] = version
    return out


def current_version(template: Template) -> TemplateVersion:
    return current_versions([template])[template.id]


def campaign_templates_freeze(*, campaign: Campaign) -> dict[int, TemplateVersion]:
    """Called inside campaign_launch's transaction: lock the sequence's templates, so an edit
    in flight either commits first (and is what v1 says) or waits and then sees the campaign
    launched (and records v2); a draft version is never rewritten after it could be sent."""
    steps = Step.objects.filter(sequence_id=campaign.sequence_id)
    alternatives = StepAlternative.objects.filter(step__sequence_id=campaign.sequence_id)
    templates = list(
        Template.objects.select_for_update()
        .filter(
            Q(id__in=steps.values("template_id")) | Q(id__in=alternatives.values("template_id"))
        )
        .order_by("id")
    )
    return current_versions(templates)


# --- steps -----------------------------------------------------------------------------------

STEP_FIELDS = {
    "position": "position",
    "channel": "channel",
    "template_id": "template",
    "delay": "delay",
    "business_days": "business days",
    "condition": "condition",
    "condition_channel": "condition channel",
    "whatsapp_template_id": "WhatsApp template",
    "whatsapp_variables": "WhatsApp template variables",
}


def steps_state(*, sequence: Sequence) -> dict[int, dict[str, Any]]:
    """What each step of the sequence sends and when, by step id (taken before an edit)."""
    return {
        s.id: {f: getattr(s, f) for f in STEP_FIELDS}
        for s in Step.objects.filter(sequence=sequence)
    }


def _show(field: str, value: Any, names: dict[int, str]) -> str:
    if field == "template_id":
        return f"“{names.get(value, value)}”"
    return str(value)


def sequence_changes_record(
    *, sequence: Sequence, before: dict[int, dict[str, Any]], actor=None
) -> list[str]:
    """Write each change to the steps of a sequence that a launched campaign runs (template
    swap, delay, channel, condition, steps added or removed) to those campaigns' audit trail.
    A draft's steps change freely; nothing is recorded."""
    campaigns = list(_live(Campaign.objects.filter(sequence=sequence)))
    if not campaigns:
        return []
    after = steps_state(sequence=sequence)
    template_ids = {s["template_id"] for s in [*before.values(), *after.values()]}
    names = dict(Template.objects.filter(id__in=template_ids).values_list("id", "name"))
    changes = []
    for step_id, old in sorted(before.items(), key=lambda kv: kv[1]["position"]):
        new = after.get(step_id)
        if new is None:
            changes.append(f"step {old['position']} removed")
            continue
        diffs = [
            f"{label} {_show(f, old[f], names)} → {_show(f, new[f], names)}"
            for f, label in STEP_FIELDS.items()
            if old[f] != new[f]
        ]
        if diffs:
            changes.append(f"step {new['position']}: " + "; ".join(diffs))
    for step_id, new in sorted(after.items(), key=lambda kv: kv[1]["position"]):
        if step_id not in before:
            template = _show("template_id", new["template_id"], names)
            changes.append(f"step {new['position']} added ({new['channel']}, {template})")
    for campaign in campaigns:
        for change in changes:
            audit_record(actor=actor, action="campaign.step_change", target=campaign, detail=change)
    return changes
