"""A rep's task queue (/tasks/): manual LinkedIn steps, sent by hand, skipped, or answered."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.models import Campaign, Enrollment
from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Identity
from core.teams import Team
from outreach.models import ManualTask, Message
from tests import factories
from tests.inbox.helpers import rep

pytestmark = pytest.mark.django_db

DAY = 86400


def linkedin_campaign(owner, n: int = 1, *, steps) -> Enrollment:
    """A running campaign of ``owner`` for one contact of theirs, its first step due."""
    senders = [factories.sender(f"{ch} {n}", channel=ch) for ch in {ch for ch, _ in steps}]
    campaign = factories.campaign(senders=senders, steps=steps, name=f"Campaign {n}")
    campaign.owner = owner
    campaign.save(update_fields=["owner"])
    contact = factories.contact(n, channels=("linkedin", "email"), owner=owner)
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign)
    enrollments_materialize(now=timezone.now())
    return Enrollment.objects.get(campaign=campaign)


def task_of(enrollment: Enrollment) -> ManualTask:
    return ManualTask.objects.get(
        message__step_send__enrollment=enrollment, message__status="queued"
    )


def test_mark_sent_records_the_send_now_and_schedules_the_next_step_after_its_delay(client):
    ann = rep("ann")
    enrollment = linkedin_campaign(ann, steps=(("linkedin", 0), ("email", 2 * DAY)))
    task = task_of(enrollment)
    Message.objects.filter(id=task.message_id).update(
        created_at=timezone.now() - timedelta(days=3, minutes=1)
    )
    client.force_login(ann)
    page = client.get(reverse("tasks:queue")).content.decode()
    assert "Overdue · due 3\xa0days ago" in page
    assert "https://www.linkedin.com/in/lead1_linkedin/" in page
    assert "Hi Lead1 (step 1)" in page
    assert f'data-copy="#task-text-{task.pk}"' in page
    assert 'title="manual tasks due">1</span>' in page
    before = timezone.now()
    assert client.post(reverse("tasks:sent", args=[task.pk])).status_code == 302
    message = Message.objects.get(id=task.message_id)
    assert message.status == "sent" and before <= message.sent_at <= timezone.now()
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.current_step) == ("active", 2)
    assert enrollment.next_action_at == message.sent_at + timedelta(seconds=2 * DAY)
    assert "Hi Lead1 (step 1)" not in client.get(reverse("tasks:queue")).content.decode()


def test_they_replied_stops_the_sequence_and_lands_in_the_inbox_as_a_reply(client):
    ann = rep("ann")
    enrollment = linkedin_campaign(ann, steps=(("linkedin", 0), ("linkedin", 0), ("email", 0)))
    client.force_login(ann)
    client.post(reverse("tasks:sent", args=[task_of(enrollment).pk]))
    enrollments_materialize(now=timezone.now())  # step 2, again a task
    second = task_of(enrollment)
    response = client.post(
        reverse("tasks:replied", args=[second.pk]), {"text": "Sounds interesting, tell me more"}
    )
    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    assert enrollment.hold_reason == "replied on LinkedIn"
    assert Message.objects.get(id=second.message_id).status == "cancelled"
    reply = Message.objects.get(direction="in")
    assert (reply.body, reply.intent.label) == ("Sounds interesting, tell me more", "interested")
    assert client.get(reverse("tasks:queue")).context["total"] == 0


def test_skip_moves_on_to_the_next_step_after_its_delay():
    from campaigns.manual_tasks import manual_task_skip

    ann = rep("ann")
    enrollment = linkedin_campaign(ann, steps=(("linkedin", 0), ("email", DAY)))
    task = task_of(enrollment)
    assert manual_task_skip(task=task, actor=ann)
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.current_step) == ("active", 2)
    assert timezone.now() + timedelta(seconds=DAY - 60) < enrollment.next_action_at
    assert Message.objects.get(id=task.message_id).status == "cancelled"


def test_a_rep_cannot_act_on_another_teams_task_but_their_manager_can(client):
    ann, bob, boss = rep("ann"), rep("bob"), rep("boss")
    boss.groups.add(Group.objects.get(name="manager"))
    Team.objects.create(name="North").managers.add(boss)
    Team.objects.get(name="North").members.add(bob)
    bobs = linkedin_campaign(bob, steps=(("linkedin", 0), ("email", DAY)))
    task = task_of(bobs)
    client.force_login(ann)
    assert client.get(reverse("tasks:queue")).context["total"] == 0
    for action in ("sent", "skip", "replied"):
        assert client.post(reverse(f"tasks:{action}", args=[task.pk])).status_code == 404
    assert Message.objects.get(id=task.message_id).status == "queued"
    assert ManualTask.objects.get(id=task.pk).done_at is None
    bobs.refresh_from_db()
    assert (bobs.state, bobs.current_step) == ("waiting", 1)
    client.force_login(boss)
    assert client.get(reverse("tasks:queue")).context["total"] == 1
    csrf_checked = Client(enforce_csrf_checks=True)
    csrf_checked.force_login(boss)
    assert csrf_checked.post(reverse("tasks:skip", args=[task.pk])).status_code == 403
    assert Message.objects.get(id=task.message_id).status == "queued"
    client.post(reverse("tasks:skip", args=[task.pk]))
    assert Message.objects.get(id=task.message_id).status == "cancelled"


def test_a_task_whose_campaign_paused_is_not_closed_and_comes_back_on_resume(client):
    from campaigns.services import campaign_pause, campaign_resume

    ann = rep("ann")
    enrollment = linkedin_campaign(ann, steps=(("linkedin", 0), ("email", DAY)))
    task = task_of(enrollment)
    campaign_pause(campaign=enrollment.campaign)
    client.force_login(ann)
    assert client.get(reverse("tasks:queue")).context["total"] == 0
    client.post(reverse("tasks:sent", args=[task.pk]))
    assert ManualTask.objects.get(id=task.pk).done_at is None
    campaign_resume(campaign=enrollment.campaign)
    assert client.get(reverse("tasks:queue")).context["total"] == 1


def test_a_call_step_is_a_task_with_a_tel_link_and_marking_it_done_starts_the_next_delay(client):
    ann = rep("ann")
    senders = [factories.sender("Ann's phone", channel="phone"), factories.sender("Ann")]
    campaign = factories.campaign(
        senders=senders, steps=(("phone", 0), ("email", 3 * DAY)), name="Call first"
    )
    Campaign.objects.filter(pk=campaign.pk).update(owner=ann)
    contact = factories.contact(7, channels=("email",), owner=ann)
    Identity.objects.create(contact=contact, channel="phone", value="+41445551234")
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign)
    enrollments_materialize(now=timezone.now())
    enrollment = Enrollment.objects.get(campaign=campaign)
    task = task_of(enrollment)
    client.force_login(ann)
    page = client.get(reverse("tasks:queue")).content.decode()
    assert 'href="tel:+41445551234"' in page and "Call +41445551234" in page
    client.post(reverse("tasks:sent", args=[task.pk]))
    sent = Message.objects.get(id=task.message_id)
    enrollment.refresh_from_db()
    assert (sent.status, enrollment.current_step) == ("sent", 2)
    assert enrollment.next_action_at == sent.sent_at + timedelta(seconds=3 * DAY)


def test_the_overview_counts_the_reps_due_and_overdue_tasks_and_links_the_queue(client):
    ann = rep("ann")
    first = linkedin_campaign(ann, 1, steps=(("linkedin", 0), ("email", DAY)))
    linkedin_campaign(ann, 2, steps=(("linkedin", 0), ("email", DAY)))
    Message.objects.filter(id=task_of(first).message_id).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    client.force_login(ann)
    page = client.get("/").content.decode()
    assert "2 manual tasks are due, 1 overdue" in page
    assert f'href="{reverse("tasks:queue")}"' in page
    client.force_login(rep("bob"))  # another rep has none: no panel
    assert 'id="tasks-due"' not in client.get("/").content.decode()
