"""The dashboards' counters are exact: after a realistic run through the real services
(sends, receipts, bounces, replies racing a send in flight, label corrections, opt-outs and
their reversal, deals), the counter-based selectors show what a plain recount of the live
rows shows, and `rebuild_dashboard_stats` rebuilds the very same counters."""

from collections import Counter, defaultdict

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.campaign import campaign_dashboard
from analytics.overview import campaigns_overview
from campaigns.bulk import contacts_opt_out
from campaigns.dispatch import enrollments_materialize
from campaigns.models import (
    Campaign,
    CampaignDayStats,
    CampaignIntentStats,
    CampaignStats,
    Enrollment,
    StepSend,
    TemplateVariant,
)
from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Contact
from contacts.services import contact_opt_out_reverse
from outreach.channels.base import InboundItem
from outreach.inbound.process import inbound_event_process
from outreach.inbound.store import inbound_items_store
from outreach.inbox.models import MessageIntent
from outreach.inbox.services import intent_correct
from outreach.models import Message
from outreach.sending.claim import claim_batch
from outreach.sending.deliver import message_send
from outreach.sending.record import message_record_sent
from pipelines.models import Stage
from pipelines.services import deal_for_contact, deal_move
from tests import factories
from tests.inbox.helpers import rep, reply_from

pytestmark = pytest.mark.django_db
M = Message.Status
HELD = (M.QUEUED, M.PAUSED, M.UNKNOWN)
POSITIVE = ("interested", "positive", "meeting")


@pytest.fixture
def locmem_email(settings):
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "email": {"BACKEND": "outreach.channels.locmem.LocmemChannel", "OPTIONS": {}},
    }


def send_queued(campaign: Campaign, *, skip: tuple[int, ...] = ()) -> None:
    enrollments_materialize(now=timezone.now(), batch=500)
    for mid, contact_id in Message.objects.filter(
        step_send__enrollment__campaign=campaign, status=M.QUEUED
    ).values_list("id", "step_send__enrollment__contact_id"):
        if contact_id not in skip:
            message_send(message_id=mid)


def receipt(kind: str, messages: list[Message], n: int, **fields) -> None:
    items = [
        InboundItem(
            kind=kind,
            event_id=f"{kind}-{n}",
            refers_to=[m.provider_message_id for m in messages],
            **fields,
        )
    ]
    for event_id in inbound_items_store(provider="email", items=items, sender=messages[0].sender):
        inbound_event_process(event_id=event_id)


def step_message(campaign: Campaign, contact: Contact, position: int) -> Message:
    return Message.objects.get(
        step_send__enrollment__campaign=campaign,
        step_send__enrollment__contact=contact,
        step_send__step__position=position,
    )


def run_a_campaign_season():
    """Two campaigns sharing contacts, driven through the services only."""
    sender = factories.sender("Counters S1")
    people = [factories.contact(7000 + n) for n in range(12)]
    steps = [("email", 0), ("email", 0), ("email", 86400)]  # replies come before step 3
    spring = factories.campaign(senders=[sender], steps=steps, name="Spr")
    first = spring.sequence.steps.get(position=1).template
    TemplateVariant.objects.bulk_create(
        [TemplateVariant(template=first, label=lb, body=f"Hi ({lb})") for lb in "AB"]
    )
    autumn = factories.campaign(senders=[sender], steps=[("email", 0)], name="Aut")
    enrollments_create(campaign=spring, contacts=people)
    enrollments_create(campaign=autumn, contacts=people[:4])
    enrollments_create(campaign=spring, contacts=people[:3])  # already in: no change
    for c in (spring, autumn):
        campaign_launch(campaign=c, confirm_warnings=True)
    send_queued(spring)
    send_queued(autumn)

    step1 = {p.id: step_message(spring, p, 1) for p in people}
    receipt("delivered", [step1[p.id] for p in people[:6]], 1)
    receipt("read", [step1[p.id] for p in (people[0], people[1], people[6])], 2)
    # Bounces: one only sent, one already delivered.
    for n, p in ((3, people[7]), (4, people[5])):
        receipt("bounce", [step1[p.id]], n, error_code="5.1.1", hard=True)

    # Step 2 goes out, except contact 8's, which is caught in flight by a reply.
    send_queued(spring, skip=(people[8].id,))
    in_flight = step_message(spring, people[8], 2)
    (claim,) = claim_batch([in_flight.id])  # the send task's first transaction
    reply_from(people[8], sender, "Sounds good, tell me more")
    assert message_record_sent(
        message_id=in_flight.id, provider_message_id="late-8", attempt=claim.message.attempts
    )
    receipt("delivered", [step_message(spring, people[0], 2)], 5)

    # Replies: interested (in both campaigns), not interested, an opt-out, a corrected label.
    reply_from(people[0], sender, "Sounds good, can we book a call on Thursday?")
    reply_from(people[1], sender, "Not interested, thanks")
    reply_from(people[2], sender, "STOP")
    maybe = reply_from(people[3], sender, "Hmm, who is this?")
    boss = rep("counter-boss")
    intent_correct(intent=MessageIntent.objects.get(message=maybe), label="interested", by=boss)
    intent_correct(intent=MessageIntent.objects.get(message=maybe), label="not_now", by=boss)
    later = reply_from(people[4], sender, "ok")
    intent_correct(intent=MessageIntent.objects.get(message=later), label="interested", by=boss)

    # Opt-outs from the admin, one of them reversed.
    contacts_opt_out(contacts=Contact.objects.filter(id__in=[people[9].id, people[10].id]))
    contact_opt_out_reverse(contact=people[10], actor=boss, note="asked to be back in")

    # A deal won; a campaign joined after the interested reply (not positive there).
    deal = deal_for_contact(contact=people[0])
    if deal is not None:
        won = Stage.objects.create(
            pipeline=deal.pipeline, name="Won (counters)", position=99, kind=Stage.Kind.WON
        )
        deal_move(deal=deal, stage=won)
    winter = factories.campaign(senders=[sender], steps=[("email", 0)], name="Win")
    enrollments_create(campaign=winter, contacts=people[:2])

    # A one-step campaign whose sequences are done when the replies come: they count, once.
    # Contact 6 is also in spring, live: its reply stops that sequence too.
    summer = factories.campaign(senders=[sender], steps=[("email", 0)], name="Sum")
    enrollments_create(campaign=summer, contacts=[people[6], people[11]])
    campaign_launch(campaign=summer, confirm_warnings=True)
    send_queued(summer)
    for n, p, text in (
        (6, people[6], "Yes please"),
        (7, people[11], "Interested"),
        (8, people[11], "Hello?"),
    ):
        ours = step_message(summer, p, 1)
        address = ours.conversation.identity.value
        receipt("message", [ours], n, from_handle=address, text=text)
    return [spring, autumn, winter, summer]


# --- a plain recount of the live rows, in Python ---------------------------------------------


def positive_replies() -> list[tuple[int, object]]:
    """(contact id, received at) of every reply labelled positive (a correction wins)."""
    out = []
    for i in MessageIntent.objects.select_related("message__conversation__identity"):
        if (i.corrected_label or i.label) in POSITIVE:
            out.append((i.message.conversation.identity.contact_id, i.message.created_at))
    return out


def recount(campaign: Campaign) -> dict:
    links = list(
        StepSend.objects.filter(enrollment__campaign=campaign).select_related(
            "message", "step", "enrollment__contact"
        )
    )
    enrollments = list(Enrollment.objects.filter(campaign=campaign).select_related("contact"))
    positive = positive_replies()

    def is_positive(e: Enrollment) -> bool:
        return any(cid == e.contact_id and at >= e.created_at for cid, at in positive)

    last = {}
    for link in links:
        e, position = link.enrollment_id, link.step.position
        if link.message.sent_at is not None and (e not in last or position > last[e][0]):
            last[e] = (position, link.id)
    per_key: dict = defaultdict(Counter)
    for link in links:
        m, e = link.message, link.enrollment
        key = (link.step_id, link.variant_id or 0)
        per_key[key]["waiting"] += m.status in HELD
        if m.sent_at is None:
            continue
        per_key[key]["sent"] += 1
        per_key[key]["delivered"] += m.status in (M.DELIVERED, M.READ)
        per_key[key]["bounced"] += m.status == M.FAILED and m.error_code.startswith("bounce")
        if last[e.id][1] == link.id:
            per_key[key]["replied"] += e.state == Enrollment.State.REPLIED
            per_key[key]["positive"] += is_positive(e)
            per_key[key]["opted_out"] += e.contact.opted_out_at is not None
    sent_by = {link.enrollment_id for link in links if link.message.sent_at}
    delivered_by = {
        link.enrollment_id for link in links if link.message.status in (M.DELIVERED, M.READ)
    }
    replied = [e for e in enrollments if e.state == Enrollment.State.REPLIED]
    days = Counter(
        timezone.localdate(link.message.sent_at) for link in links if link.message.sent_at
    )
    intents = Counter()
    for i in MessageIntent.objects.select_related("message__conversation__identity"):
        for e in enrollments:
            contact_id = i.message.conversation.identity.contact_id
            if e.contact_id == contact_id and i.message.created_at >= e.created_at:
                intents[i.corrected_label or i.label] += 1
    return {
        "enrolled": len(enrollments),
        "contacted": len(sent_by),
        "delivered": len(delivered_by),
        "replied": len(replied),
        "positive": sum(is_positive(e) for e in enrollments),
        "sent": sum(days.values()),
        "sends_per_day": days,
        "replies_per_day": Counter(timezone.localdate(e.replied_at) for e in replied),
        "per_key": {k: {f: n for f, n in c.items() if n} for k, c in per_key.items()},
        "intents": {k: n for k, n in intents.items() if n},
    }


def shown(campaign: Campaign) -> dict:
    """What the counter-based selectors show, in the recount's shape."""
    row = next(r for r in campaigns_overview().rows if r.id == campaign.id)
    d = campaign_dashboard(campaign=campaign)
    funnel = {f.label: f.count for f in d.funnel}
    assert (funnel["Enrolled"], funnel["Replied"]) == (row.enrolled, row.replied)
    figures = ("waiting", "sent", "delivered", "replied", "positive", "bounced", "opted_out")
    steps = {s.id: s for s in campaign.sequence.steps.all()}
    labels = {f"{s.position}. {s.template.name}": sid for sid, s in steps.items()}
    per_step = {labels[s.label]: {f: getattr(s, f) for f in figures} for s in d.steps}
    per_variant = {}
    for v in d.variants:
        position, label = v.label.removeprefix("step ").split(" / ")
        step = next(s for s in steps.values() if s.position == int(position))
        variant = TemplateVariant.objects.get(template=step.template, label=label)
        per_variant[(step.id, variant.id)] = {f: getattr(v, f) for f in figures}
    return {
        "enrolled": row.enrolled,
        "contacted": row.contacted,
        "delivered": funnel["Delivered"],
        "replied": row.replied,
        "positive": row.positive or 0,
        "interested": funnel["Interested"],
        "sent": row.sent,
        "sent_today": row.sparkline[-1],
        "sends_per_day": {day: n for day, n in zip(d.days, d.sends_per_day, strict=True) if n},
        "replies_per_day": {day: n for day, n in zip(d.days, d.replies_per_day, strict=True) if n},
        "per_step": per_step,
        "per_variant": per_variant,
        "intents": dict(d.intents),
    }


def counters_snapshot() -> tuple[dict, dict, dict]:
    fields = ("enrolled", "contacted", "reached", "sent", "delivered", "bounced")
    fields += ("replied", "positive", "opted_out")
    day_stats = defaultdict(Counter)
    for s in CampaignDayStats.objects.all():
        for f in fields:
            day_stats[(s.campaign_id, s.day, s.step, s.variant)][f] += getattr(s, f)
    intents = Counter()
    for s in CampaignIntentStats.objects.all():
        intents[(s.campaign_id, s.intent)] += s.n
    totals = {
        s.campaign_id: {f: getattr(s, f) for f in fields if getattr(s, f)}
        for s in CampaignStats.objects.all()
    }
    summed: dict = defaultdict(Counter)
    for (cid, *_), c in day_stats.items():
        summed[cid].update(c)
    # A campaign's totals are the sums of its days, steps and variants.
    assert {k: v for k, v in totals.items() if v} == {
        cid: {f: n for f, n in c.items() if n} for cid, c in summed.items() if any(c.values())
    }
    return (
        {k: {f: n for f, n in c.items() if n} for k, c in day_stats.items() if any(c.values())},
        {k: n for k, n in intents.items() if n},
        totals,
    )


def test_counters_show_what_a_recount_of_the_live_rows_shows(locmem_email):
    campaigns = run_a_campaign_season()
    for campaign in campaigns:
        live, seen = recount(campaign), shown(campaign)
        for name in ("enrolled", "contacted", "delivered", "replied", "positive", "sent"):
            assert seen[name] == live[name], (campaign.name, name)
        assert seen["interested"] == live["positive"]
        assert seen["sent_today"] == live["sends_per_day"][timezone.localdate()]
        assert seen["sends_per_day"] == {d: n for d, n in live["sends_per_day"].items() if n}
        assert seen["replies_per_day"] == dict(live["replies_per_day"])
        assert seen["intents"] == live["intents"]
        by_step: dict = defaultdict(Counter)
        for (step, _), c in live["per_key"].items():
            by_step[step].update(c)
        for step, figures in seen["per_step"].items():
            assert {f: n for f, n in figures.items() if n} == dict(by_step.get(step, {}))
        for key, figures in seen["per_variant"].items():
            assert {f: n for f, n in figures.items() if n} == live["per_key"].get(key, {})
    spring = recount(campaigns[0])
    # The run did what it says: every kind of figure is there to be compared.
    assert spring["per_key"] and spring["positive"] >= 2 and spring["replied"] >= 4
    totals = Counter()
    for c in spring["per_key"].values():
        totals.update(c)
    assert {"sent", "delivered", "bounced", "replied", "positive", "opted_out"} <= set(totals)
    assert recount(campaigns[2])["positive"] == 0  # joined after the interested reply
    assert recount(campaigns[3])["replied"] == 2  # replies after the sequences completed


def test_rebuilding_gives_the_very_same_counters(locmem_email):
    run_a_campaign_season()
    kept = counters_snapshot()
    assert kept[0] and kept[1]
    call_command("rebuild_dashboard_stats", stdout=None)
    assert counters_snapshot() == kept


def test_upgrading_an_install_with_campaigns_fills_its_counters_after_migrating(locmem_email):
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    from campaigns.apps import COUNTERS_MIGRATION, fill_counters_after_upgrade

    run_a_campaign_season()
    kept = counters_snapshot()
    for model in (CampaignDayStats, CampaignStats, CampaignIntentStats):
        model.objects.all().delete()  # as before the migration that adds them
    migration = MigrationLoader(None, ignore_no_migrations=True).disk_migrations[COUNTERS_MIGRATION]
    config = apps.get_app_config("campaigns")

    fill_counters_after_upgrade(config, plan=[(migration, True)])  # migrating back: nothing
    assert not CampaignStats.objects.exists()
    fill_counters_after_upgrade(config, plan=None)  # a flush, not a migration: nothing
    assert not CampaignStats.objects.exists()
    fill_counters_after_upgrade(config, plan=[(migration, False)])
    assert counters_snapshot() == kept


def test_a_rolled_back_change_leaves_the_counters_as_they_were(locmem_email):
    from django.db import transaction

    sender = factories.sender("Rollback S")
    campaign = factories.campaign(senders=[sender], name="Rollback")
    before = counters_snapshot()
    with pytest.raises(RuntimeError), transaction.atomic():
        enrollments_create(campaign=campaign, contacts=[factories.contact(7100)])
        raise RuntimeError("the request failed after enrolling")
    assert counters_snapshot() == before
    assert not Enrollment.objects.filter(campaign=campaign).exists()


def test_deleting_contacts_or_a_campaign_takes_their_counts_away(locmem_email):
    spring, autumn, *_ = run_a_campaign_season()
    Contact.objects.filter(first_name__in=["Lead7000", "Lead7008"]).delete()  # cascades
    kept = counters_snapshot()
    call_command("rebuild_dashboard_stats", stdout=None)
    assert counters_snapshot() == kept
    autumn_id = autumn.id
    autumn.delete()
    after = counters_snapshot()
    for part, before in zip(after, kept, strict=True):
        gone = {k: v for k, v in before.items() if k not in part}
        assert {k: v for k, v in before.items() if k in part} == part
        assert gone and {k if isinstance(k, int) else k[0] for k in gone} == {autumn_id}
