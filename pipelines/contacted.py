"""Pipelines that put every contacted contact in their first stage
(Pipeline.contacted_in_first_stage): the deals opened when campaign messages go out.

Called once per batch of sent messages (campaigns.seams.CampaignEvents.messages_sent), inside
the send's transaction: a few queries per batch and pipeline, not per message.
"""

from django.db import transaction

from contacts.models import Contact
from pipelines.models import Deal, DealStageChange, Pipeline, Stage
from pipelines.services import DealOrigin
from pipelines.signals import deal_stage_changed

REASON = "contacted by a campaign"


def _without_deal(pipeline: Pipeline, contact_ids) -> set[int]:
    have = Deal.objects.filter(pipeline=pipeline, contact_id__in=contact_ids)
    return set(contact_ids) - set(have.values_list("contact_id", flat=True))


def deals_open_for_contacted(*, origins: dict[int, DealOrigin]) -> list[Deal]:
    """Open a deal in the first stage of every pipeline that asks for it, for each contact
    (id -> the campaign that reached them) who has no deal in that pipeline yet. A contact
    whose deal there was won or lost is left alone. Idempotent: sending again adds nothing."""
    if not origins:
        return []
    opened: list[Deal] = []
    for pipeline in Pipeline.objects.filter(contacted_in_first_stage=True).order_by("id"):
        first = pipeline.stages.order_by("position").first()
        if first is None or not _without_deal(pipeline, origins):
            continue  # the usual case after a first step: one query, no lock
        with transaction.atomic():
            # Nothing in the schema forbids two deals of one contact in a pipeline (a rep
            # may open another): locking the pipeline's row stops two batches both finding
            # none for a contact and both opening one.
            list(Pipeline.objects.select_for_update().filter(pk=pipeline.pk).values_list("pk"))
            opened += _open(pipeline, first, origins, _without_deal(pipeline, origins))
    return opened


def _open(pipeline: Pipeline, first: Stage, origins: dict[int, DealOrigin], ids) -> list[Deal]:
    owners = dict(Contact.objects.filter(id__in=ids).values_list("id", "owner_id"))
    deals = Deal.objects.bulk_create(
        [
            Deal(
                contact_id=contact_id,
                pipeline=pipeline,
                stage=first,
                campaign_id=origins[contact_id].campaign_id,
                owner_id=origins[contact_id].owner_id or owner_id,
            )
            for contact_id, owner_id in sorted(owners.items())
        ]
    )
    changes = DealStageChange.objects.bulk_create(
        [DealStageChange(deal=d, to_stage=first, reason=REASON) for d in deals]
    )
    for deal, change in zip(deals, changes, strict=True):
        deal_stage_changed.fan_out(sender=Deal, deal=deal, change=change)
    return deals
