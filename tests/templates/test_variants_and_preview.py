"""A/B variants (split, stickiness, stats, winner) and preview == what the dispatcher sends."""

from collections import Counter

import pytest
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.models import Enrollment, StepSend, Template, TemplateVariant
from campaigns.preview import template_preview
from campaigns.services import campaign_launch, enrollments_create
from campaigns.variants import (
    template_pick_winner,
    template_variant_stats,
    two_proportion_p,
    variant_pick,
)
from outreach.models import Message
from tests import factories

pytestmark = pytest.mark.django_db


def test_weighted_split_is_sticky_and_within_tolerance():
    t = Template.objects.create(name="t", body="x")
    a = TemplateVariant.objects.create(template=t, label="A", body="a", weight=1)
    b = TemplateVariant.objects.create(template=t, label="B", body="b", weight=3)
    picks = [variant_pick(step_id=5, variants=[a, b], contact_id=n) for n in range(8000)]
    counts = Counter(v.label for v in picks)
    assert abs(counts["B"] / 8000 - 0.75) < 0.03, counts
    again = [variant_pick(step_id=5, variants=[b, a], contact_id=n) for n in range(8000)]
    assert picks == again  # order of the list does not matter: sticky per contact


def test_two_proportion_test():
    assert two_proportion_p(50, 500, 20, 500) < 0.001
    assert two_proportion_p(21, 500, 20, 500) > 0.5
    assert two_proportion_p(1, 0, 1, 10) is None


def _sent_campaign(n=40):
    contacts = [factories.contact(i) for i in range(n)]
    campaign = factories.campaign(senders=[factories.sender()], body="{Hi|Hello} {{ first_name }}")
    template = Template.objects.get(steps__sequence=campaign.sequence)
    TemplateVariant.objects.create(
        template=template,
        label="A",
        subject="A {{ first_name }}",
        body="{Hi|Hey} {{ first_name }}, A",
    )
    TemplateVariant.objects.create(
        template=template,
        label="B",
        subject="B",
        body="Hello {{ first_name }}, B {{ campaign.name }}",
    )
    enrollments_create(campaign=campaign, contacts=contacts)
    campaign_launch(campaign=campaign)
    enrollments_materialize(now=timezone.now(), batch=500)
    return campaign, template, contacts


def test_preview_is_exactly_what_the_dispatcher_renders():
    campaign, template, contacts = _sent_campaign(12)
    for link in StepSend.objects.select_related("message", "variant", "enrollment__contact"):
        preview = template_preview(
            template=template,
            subject=template.subject,
            body=template.body,
            channel="email",
            contact=link.enrollment.contact,
        )
        assert preview.variant_label == link.variant.label
        sent = dict(preview.variants)[link.variant.label]
        assert (sent.subject, sent.text) == (link.message.subject, link.message.body)


def test_variant_stats_count_sent_and_replied_and_pick_a_winner():
    campaign, template, contacts = _sent_campaign(60)
    # Sent messages have their sent_at: a reply counts on the last step sent.
    Message.objects.update(status=Message.Status.SENT, sent_at=timezone.now())
    a_sends = StepSend.objects.filter(variant__label="A")
    Enrollment.objects.filter(sends__in=a_sends).update(state=Enrollment.State.REPLIED)
    result = template_variant_stats(template=template)
    by = {v.label: v for v in result.variants}
    assert by["A"].sent + by["B"].sent == 60
    assert by["A"].replied == by["A"].sent and by["B"].replied == 0
    assert by["A"].positive is None
    assert result.leader.label == "A" and result.significant
    template.ab_auto_winner_after = 10
    template.save()
    assert template_pick_winner(template=template).label == "A"
    template.refresh_from_db()
    assert template.ab_winner.label == "A"


def test_no_winner_before_enough_sends():
    campaign, template, contacts = _sent_campaign(10)
    Message.objects.update(status=Message.Status.SENT)
    template.ab_auto_winner_after = 100
    template.save()
    assert template_pick_winner(template=template) is None
