"""Save a sequence built in the app (analytics/sequence_views.py): its steps in order, each
with a template picked or written on the spot, and its channel alternatives.

Positions are the order of the list: the builder never asks for one. An edit of a sequence
that a launched campaign runs follows campaigns/versions.py as the admin's does: steps change
in place (their sends keep pointing at them), and each change is written to those
campaigns' history by `sequence_changes_record`; a template written here is saved through
`template_save`, which records its v1.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django import forms
from django.db import transaction
from django.utils.translation import ngettext

from campaigns.access import (
    home_team_of,
    sequence_edit_refusal,
    sequences_visible_to,
    templates_visible_to,
)
from campaigns.models import Sequence, Step, StepAlternative, StepSend, Template
from campaigns.template_forms import validate_template_text
from campaigns.versions import sequence_changes_record, steps_state, template_save
from campaigns.whatsapp_params import SOURCE_KEYS
from contacts.channels import channel_label
from core.audit import audit_record
from deliverability.access import whatsapp_templates_visible_to
from deliverability.models import WhatsAppTemplate
from outreach.channels.registry import channels

# Positions are rewritten in two passes: first out of the way, then 1..n, so the unique
# (sequence, position) constraint holds after every UPDATE.
_ASIDE = 10_000


@dataclass
class NewTemplate:
    name: str
    subject: str
    body: str


@dataclass
class AlternativeSpec:
    channel: str
    template_id: int


@dataclass
class StepSpec:
    channel: str
    delay: timedelta
    condition: str = Step.Condition.NO_REPLY
    on_refused: str = Step.OnRefused.HOLD
    condition_channel: str = ""  # with "only if the contact has an identity on…"
    business_days: bool = False
    template_id: int | None = None
    new_template: NewTemplate | None = None
    id: int | None = None  # an existing step of this sequence
    alternatives: list[AlternativeSpec] = field(default_factory=list)
    # A WhatsApp step that sends a synced WABA template, and its variables' mapping
    # (campaigns/whatsapp_params.py).
    whatsapp_template_id: int | None = None
    whatsapp_variables: dict = field(default_factory=dict)


class SequenceError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _text_errors(where: str, text: str) -> list[str]:
    try:
        validate_template_text(text)
    except forms.ValidationError as exc:
        return [f"{where}: {m}" for m in exc.messages]
    return []


def _condition_problem(step: StepSpec, previous: StepSpec | None) -> str:
    """Step.condition_problem for a step not saved yet: the previous step is the one
    before it in the order posted, not the one stored."""
    C = Step.Condition
    if step.condition == C.HAS_IDENTITY and not step.condition_channel:
        return "choose the channel the contact must have an identity on."
    if step.condition != C.HAS_IDENTITY and step.condition_channel:
        return 'a channel goes only with "Only if the contact has an identity on…".'
    if step.condition not in (C.DELIVERED, C.READ):
        return ""
    if previous is None:
        return "the first step has no previous message to be delivered or read."
    configured = channels()
    names = [previous.channel, *(a.channel for a in previous.alternatives)]
    silent = [
        n
        for n in dict.fromkeys(names)
        if n not in configured or not configured[n].delivery_receipts
    ]
    if silent:
        return (
            f"{', '.join(channel_label(n) for n in silent)} does not report delivery or "
            "reading, so this condition could never be met."
        )
    return ""


def _check(*, sequence: Sequence | None, steps: list[StepSpec], actor, name: str) -> list[str]:
    errors = [] if name.strip() else ["Give the sequence a name."]
    if not steps:
        errors.append("Add at least one step.")
    known = set(channels())
    visible = set(templates_visible_to(actor).values_list("id", flat=True))
    wabas = {
        t.id: t
        for t in whatsapp_templates_visible_to(actor).filter(
            id__in={s.whatsapp_template_id for s in steps if s.whatsapp_template_id}
        )
    }
    existing = set(sequence.steps.values_list("id", flat=True)) if sequence else set()
    for n, step in enumerate(steps, start=1):
        where = f"Step {n}"
        if step.channel not in known:
            errors.append(f"{where}: choose a channel.")
        if step.delay < timedelta(0):
            errors.append(f"{where}: a delay cannot be negative.")
        if step.condition not in Step.Condition.values:
            errors.append(f"{where}: choose when it is sent.")
        elif step.condition_channel and step.condition_channel not in known:
            errors.append(f"{where}: choose the channel the contact must have an identity on.")
        else:
            # The model's own rule (identity channel given, delivered/read after a step
            # that reports receipts), checked against the order being saved.
            problem = _condition_problem(step, steps[n - 2] if n > 1 else None)
            if problem:
                errors.append(f"{where}: {problem}")
        if step.on_refused not in Step.OnRefused.values:
            errors.append(f"{where}: choose what happens when the platform refuses it.")
        if step.id is not None and step.id not in existing:
            errors.append(f"{where} is not a step of this sequence.")
        if step.new_template is not None:
            if not step.new_template.body.strip():
                errors.append(f"{where}: write the message.")
            errors += _text_errors(f"{where}, subject", step.new_template.subject)
            errors += _text_errors(f"{where}, message", step.new_template.body)
        elif step.template_id not in visible:
            errors.append(f"{where}: choose one of your templates.")
        errors += _waba_errors(where, step, wabas)
        seen = {step.channel}
        for m, alt in enumerate(step.alternatives, start=1):
            if alt.channel not in known:
                errors.append(f"{where}, alternative {m}: choose a channel.")
            elif alt.channel in seen:
                errors.append(f"{where}, alternative {m}: {alt.channel} is already tried.")
            seen.add(alt.channel)
            if alt.template_id not in visible:
                errors.append(f"{where}, alternative {m}: choose one of your templates.")
    return errors


def _waba_errors(where: str, step: StepSpec, wabas: dict[int, WhatsAppTemplate]) -> list[str]:
    """A WABA template only on a WhatsApp step, only one of an account the user may use,
    and a known source for each of its variables."""
    if step.whatsapp_template_id is None:
        return []
    if step.channel != "whatsapp":
        return [f"{where}: a WhatsApp template goes only with a WhatsApp step."]
    waba = wabas.get(step.whatsapp_template_id)
    if waba is None:
        return [f"{where}: choose one of your WhatsApp accounts' templates."]
    errors = []
    for v in waba.variables:
        rule = step.whatsapp_variables.get(v)
        if not isinstance(rule, dict) or rule.get("source") not in SOURCE_KEYS:
            errors.append(f"{where}: choose where {{{{{v}}}}} comes from.")
    return errors


def _kept_sends(sequence: Sequence | None, steps: list[StepSpec]) -> list[str]:
    """A step that already sent cannot be removed: its sends (and the campaign's counts of
    them) would go with it."""
    if sequence is None:
        return []
    kept = {s.id for s in steps if s.id is not None}
    gone = sequence.steps.exclude(id__in=kept)
    sent = gone.filter(id__in=StepSend.objects.values("step_id")).order_by("position")
    return [f"Step {s.position} has already sent messages: it cannot be removed." for s in sent]


def _new_template(spec: StepSpec, n: int, sequence: Sequence, actor) -> int:
    assert spec.new_template is not None
    text = spec.new_template
    template = Template(
        name=text.name.strip() or f"{sequence.name} · step {n}",
        channel=spec.channel,
        subject=text.subject if spec.channel == "email" else "",
        body=text.body,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        team=sequence.team,
    )
    template_save(template=template, actor=actor)
    audit_record(actor=actor, action="template.create", target=template, detail=sequence.name)
    return template.pk


def sequence_save(
    *,
    sequence: Sequence | None,
    name: str,
    description: str,
    steps: list[StepSpec],
    actor,
) -> Sequence:
    """Create or rewrite a sequence and its steps in one transaction, or raise
    SequenceError listing every problem (nothing is written then)."""
    if sequence is not None:
        if not sequences_visible_to(actor).filter(pk=sequence.pk).exists():
            raise SequenceError(["This sequence is not yours to change."])
        refusal = sequence_edit_refusal(actor, sequence)
        if refusal:
            raise SequenceError([refusal])
    errors = _check(sequence=sequence, steps=steps, actor=actor, name=name)
    errors += _kept_sends(sequence, steps)
    if errors:
        raise SequenceError(errors)
    with transaction.atomic():
        created = sequence is None
        if sequence is None:
            user = actor if getattr(actor, "is_authenticated", False) else None
            sequence = Sequence(created_by=user, team=home_team_of(user) if user else None)
        else:
            sequence = Sequence.objects.select_for_update().get(pk=sequence.pk)
        before = {} if created else steps_state(sequence=sequence)
        sequence.name, sequence.description = name.strip(), description
        sequence.save()
        kept = [s.id for s in steps if s.id is not None]
        sequence.steps.exclude(id__in=kept).delete()
        for step in Step.objects.filter(sequence=sequence):
            Step.objects.filter(pk=step.pk).update(position=step.position + _ASIDE)
        for n, spec in enumerate(steps, start=1):
            template_id = spec.template_id
            if spec.new_template is not None:
                template_id = _new_template(spec, n, sequence, actor)
            values = {
                "position": n,
                "channel": spec.channel,
                "delay": spec.delay,
                "condition": spec.condition,
                "condition_channel": spec.condition_channel,
                "business_days": spec.business_days,
                "on_refused": spec.on_refused,
                "template_id": template_id,
                "whatsapp_template_id": spec.whatsapp_template_id,
                "whatsapp_variables": spec.whatsapp_variables,
            }
            if spec.id is None:
                step = Step.objects.create(sequence=sequence, **values)
            else:
                Step.objects.filter(pk=spec.id, sequence=sequence).update(**values)
                step = Step.objects.get(pk=spec.id)
            step.alternatives.all().delete()
            StepAlternative.objects.bulk_create(
                StepAlternative(step=step, position=m, channel=a.channel, template_id=a.template_id)
                for m, a in enumerate(spec.alternatives, start=1)
            )
        audit_record(
            actor=actor,
            action="sequence.create" if created else "sequence.change",
            target=sequence,
            detail=ngettext("%d step", "%d steps", len(steps)) % len(steps),
        )
        if not created:
            sequence_changes_record(sequence=sequence, before=before, actor=actor)
    return sequence
