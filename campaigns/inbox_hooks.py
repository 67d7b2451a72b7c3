"""Campaign and deal-stage filters and contact-card sections for outreach's inbox."""

from django.db.models import QuerySet
from django.urls import reverse

from campaigns.access import campaigns_visible_to
from campaigns.models import Enrollment, StepSend
from outreach.inbox import hooks
from pipelines.models import Deal, Stage
from pipelines.services import deal_preview_event


def _campaign_choices(user) -> list[tuple[str, str]]:
    return [(str(c.id), c.name) for c in campaigns_visible_to(user).order_by("name")]


def _by_campaign(qs: QuerySet, value: str) -> QuerySet:
    if not value.isdigit():
        return qs.none()
    contacts = Enrollment.objects.filter(campaign_id=int(value)).values("contact_id")
    return qs.filter(identity__contact_id__in=contacts)


def _stage_choices(user) -> list[tuple[str, str]]:
    stages = Stage.objects.select_related("pipeline").order_by("pipeline__name", "position")
    return [(str(s.id), f"{s.pipeline.name}: {s.name}") for s in stages]


def _by_stage(qs: QuerySet, value: str) -> QuerySet:
    if not value.isdigit():
        return qs.none()
    contacts = Deal.objects.filter(stage_id=int(value)).values("contact_id")
    return qs.filter(identity__contact_id__in=contacts)


def _deals(contact) -> hooks.CardSection | None:
    deals = Deal.objects.filter(contact=contact).select_related("pipeline", "stage")
    rows = [
        (
            f"{d.pipeline.name}: {d.stage.name}" + (f" · {d.value}" if d.value else ""),
            reverse("pipelines:board", args=[d.pipeline_id]),
        )
        for d in deals
    ]
    return hooks.CardSection("Deals", rows) if rows else None


def _campaigns(contact) -> hooks.CardSection | None:
    rows = [
        (f"{e.campaign.name}: {e.get_state_display()}", "")
        for e in Enrollment.objects.filter(contact=contact).select_related("campaign")
    ]
    return hooks.CardSection("Campaigns", rows) if rows else None


def _template_versions(messages: list) -> dict[int, str]:
    """Which template version each campaign message was rendered from: "template “Intro” v3"."""
    rows = StepSend.objects.filter(
        message_id__in=[m.id for m in messages if m.direction == "out"],
        template_version__isnull=False,
    ).values_list("message_id", "template_version__template__name", "template_version__number")
    return {mid: f"template “{name}” v{number}" for mid, name, number in rows}


def _intent_consequences(message, label: str) -> list[str]:
    """What campaigns does when a rep labels a reply by hand (CampaignEvents.intent_corrected
    in campaigns/seams.py)."""
    contact = message.conversation.identity.contact
    lines = []
    if label == "unsubscribe" and contact.opted_out_at is None:
        lines.append(
            f"Opt {contact} out of every channel: no campaign or rep can message them again "
            "until someone reverses the opt-out in the admin."
        )
    preview = deal_preview_event(contact=contact, event=f"intent:{label}", message=message)
    if preview is not None and preview[1].kind != Stage.Kind.OPEN:
        deal, stage = preview
        lines.append(
            f"Move their deal in {deal.pipeline.name} from {deal.stage.name} to {stage.name}."
        )
    return lines


hooks.inbox_filters += [
    hooks.InboxFilter("campaign", "Campaign", _campaign_choices, _by_campaign),
    hooks.InboxFilter("stage", "Deal stage", _stage_choices, _by_stage),
]
hooks.contact_card_sections += [_deals, _campaigns]
hooks.message_labels += [_template_versions]
hooks.intent_consequences += [_intent_consequences]
