"""Previews: a template rendered for a chosen contact (or a random sample) exactly as the
dispatcher would render it: same context, same sticky sender and variant, same spintax seed,
same per-channel formatting (rendering.render_message)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from django.db.models import Q, QuerySet

from campaigns.lint import (
    LintIssue,
    _Source,
    _Tally,
    _tally_issues,
    check_rendered,
    has_subject,
    length_limit,
    lint_source,
    message_length,
)
from campaigns.models import Campaign, Enrollment, Step, Template
from campaigns.rendering import (
    RenderedMessage,
    TemplateError,
    contact_context,
    render_message,
)
from campaigns.routes import routes_for_steps
from campaigns.variants import variant_pick, variants_for_templates
from contacts.models import Contact, Identity


@dataclass
class Preview:
    contact: Contact
    channel: str
    rendered: RenderedMessage | None
    error: str = ""
    variant_label: str = ""  # the variant this contact gets, when the template has several
    variants: list[tuple[str, RenderedMessage]] = field(default_factory=list)
    context: dict[str, str] = field(default_factory=dict, repr=False)
    seed: str = ""

    @property
    def length(self) -> int:
        return message_length(self.rendered.text, self.channel) if self.rendered else 0

    @property
    def limit(self) -> int | None:
        return length_limit(self.channel)


@dataclass
class _Setting:
    """Where a message for this contact would come from: step, campaign and sender."""

    step: Step | None
    campaign: Campaign | None
    sender: object | None


def _setting(contact: Contact, template: Template | None, channel: str) -> _Setting:
    from campaigns.dispatch import _pick_sender  # the dispatcher's sticky sender choice

    # The template may be a step's own or one of its channel alternatives'.
    steps = (
        Step.objects.filter(
            Q(template=template, channel=channel)
            | Q(alternatives__template=template, alternatives__channel=channel)
        )
        if template
        else None
    )
    step = steps.order_by("id").first() if steps is not None else None
    enrollment = None
    if step is not None:
        enrollment = (
            Enrollment.objects.filter(contact=contact, campaign__sequence_id=step.sequence_id)
            .select_related("campaign")
            .first()
        )
        if enrollment is None:  # not enrolled yet: as it would be in the newest campaign
            campaign = Campaign.objects.filter(sequence_id=step.sequence_id).first()
            enrollment = SimpleNamespace(  # type: ignore[assignment]
                campaign=campaign, sender_id=None, contact_id=contact.id
            )
    campaign = enrollment.campaign if enrollment else None
    sender = None
    if campaign is not None:
        sender = _pick_sender(list(campaign.senders.all()), enrollment, channel)  # type: ignore[arg-type]
    return _Setting(step, campaign, sender)


def template_preview(
    *, template: Template | None, subject: str, body: str, channel: str, contact: Contact
) -> Preview:
    """Render the (possibly unsaved) subject and body for one contact on one channel."""
    setting = _setting(contact, template, channel)
    identities = {}
    for ident in Identity.objects.filter(contact=contact).order_by("-id"):
        identities[ident.channel] = ident.value  # oldest wins, as in the dispatcher
    ctx = contact_context(
        contact=contact,
        identity=SimpleNamespace(value=identities.get(channel, "")),
        sender=setting.sender,
        campaign_name=setting.campaign.name if setting.campaign else "",
        identities=identities,
    )
    step_id = setting.step.id if setting.step else 0
    seed = f"{contact.id}:{step_id}"
    try:
        rendered = render_message(
            subject=subject, body=body, channel=channel, context=ctx, seed=seed
        )
    except TemplateError as exc:
        return Preview(contact, channel, None, error=str(exc), context=ctx, seed=seed)
    preview = Preview(contact, channel, rendered, context=ctx, seed=seed)
    if template is not None and template.pk:
        variants = variants_for_templates([template.pk], pick_winners=False)[template.pk]
        chosen = variant_pick(step_id=step_id, variants=variants, contact_id=contact.id)
        for v in variants:
            try:
                out = render_message(
                    subject=v.subject, body=v.body, channel=channel, context=ctx, seed=seed
                )
            except TemplateError as exc:
                out = RenderedMessage("", f"(does not compile: {exc})", "")
            preview.variants.append((v.label, out))
            if v is chosen:
                preview.variant_label = v.label
    return preview


def step_previews(*, step: Step, contact: Contact) -> list[tuple[str, Preview]]:
    """The step rendered for one contact on its own channel and on each alternative, as the
    dispatcher would send it there: [("", own), ("alternative 1 (Email)", …), …]."""
    labelled = []
    for route in routes_for_steps([step])[step.id]:
        label = f"{route.label} ({route.channel_name})" if route.position else ""
        preview = template_preview(
            template=route.template,
            subject=route.template.subject,
            body=route.template.body,
            channel=route.channel,
            contact=contact,
        )
        labelled.append((label, preview))
    return labelled


def preview_sample(
    *,
    template: Template | None,
    subject: str,
    body: str,
    channel: str,
    size: int = 5,
    contacts: QuerySet[Contact] | None = None,
) -> list[Preview]:
    """Previews for a random few of ``contacts`` (every contact by default)."""
    contacts = (Contact.objects.all() if contacts is None else contacts).order_by("?")[:size]
    return [
        template_preview(template=template, subject=subject, body=body, channel=channel, contact=c)
        for c in contacts
    ]


def preview_lint(
    *, subject: str, body: str, channel: str, previews: list[Preview]
) -> list[LintIssue]:
    """The lint a rep sees while editing: the static checks plus, for the previewed contacts,
    empty variables and lengths."""
    issues, compiled_body = lint_source(body, channel=channel, where="body")
    compiled_subject = None
    if has_subject(channel):
        more, compiled_subject = lint_source(subject, channel=channel, where="subject")
        issues += more
    if any(i.level == "error" for i in issues) or not previews:
        return issues
    source = _Source("previewed contacts", None, compiled_subject, compiled_body)
    tally = _Tally()
    for p in previews:
        check_rendered(
            source=source,
            channel=channel,
            ctx=p.context,
            seed=p.seed,
            tally=tally,
            who=str(p.contact),
        )
    return issues + _tally_issues(tally, {"previewed contacts": len(previews)})
