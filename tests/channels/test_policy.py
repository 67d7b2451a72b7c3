"""The policy gate, driven by an explicit clock: nothing leaves outside a platform's rules,
and a refused message waits with a reason a rep can read."""

from datetime import timedelta

import pytest
from django.utils import timezone

from outreach.channels import get_channel
from outreach.channels.base import PolicyContext
from outreach.models import ManualTask, Message
from outreach.sending.create import conversations_for, messages_create
from outreach.sending.deliver import message_send
from tests import factories
from tests.channels.helpers import platform_sender

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def ctx(channel: str, **kw) -> PolicyContext:
    base = {"channel": channel, "now": NOW, "recipient": "ana", "recipient_platform_id": "555"}
    return PolicyContext(**(base | {"last_inbound_at": None} | kw))


@pytest.mark.parametrize("channel", ["instagram", "messenger"])
def test_meta_allows_sends_only_inside_24h_of_the_last_inbound(platform_channels, channel):
    backend = get_channel(channel)
    assert backend.check_policy(ctx(channel, last_inbound_at=NOW - timedelta(hours=23))).allowed
    closed = backend.check_policy(ctx(channel, last_inbound_at=NOW - timedelta(hours=25)))
    assert not closed.allowed
    assert "24 h" in closed.reason and closed.retry_at > NOW
    assert not backend.check_policy(ctx(channel)).allowed


def test_meta_human_agent_reply_is_allowed_for_seven_days(platform_channels):
    backend = get_channel("messenger")
    three_days = NOW - timedelta(days=3)
    assert backend.check_policy(
        ctx("messenger", last_inbound_at=three_days, human_written=True)
    ).allowed
    assert not backend.check_policy(ctx("messenger", last_inbound_at=three_days)).allowed
    eight_days = NOW - timedelta(days=8)
    assert not backend.check_policy(
        ctx("messenger", last_inbound_at=eight_days, human_written=True)
    ).allowed


def test_instagram_comment_allows_one_private_reply_within_seven_days(platform_channels):
    backend = get_channel("instagram")
    fresh = ctx("instagram", comment_id="c1", comment_at=NOW - timedelta(days=6))
    stale = ctx("instagram", comment_id="c1", comment_at=NOW - timedelta(days=8))
    assert backend.check_policy(fresh).allowed
    assert not backend.check_policy(stale).allowed


def test_whatsapp_outside_the_window_needs_a_template(platform_channels):
    backend = get_channel("whatsapp")
    template = [{"type": "template", "name": "intro_v1", "language": "en_US"}]
    late = NOW - timedelta(hours=30)
    assert backend.check_policy(ctx("whatsapp", last_inbound_at=NOW - timedelta(hours=2))).allowed
    held = backend.check_policy(ctx("whatsapp", last_inbound_at=late))
    assert not held.allowed and "template" in held.reason
    assert backend.check_policy(ctx("whatsapp", last_inbound_at=late, attachments=template)).allowed


def test_telegram_holds_until_the_bot_was_started(platform_channels):
    backend = get_channel("telegram")
    held = backend.check_policy(ctx("telegram", recipient_platform_id=""))
    assert not held.allowed and "started the bot" in held.reason
    assert backend.check_policy(ctx("telegram", recipient_platform_id="408258968")).allowed


def test_x_holds_until_the_contact_wrote_first(platform_channels):
    backend = get_channel("x")
    assert not backend.check_policy(ctx("x")).allowed
    assert backend.check_policy(ctx("x", last_inbound_at=NOW - timedelta(days=30))).allowed


def _queued(channel: str, *, platform_id: str = "555", last_inbound=None, attachments=()):
    handle = {"telegram": "acme_bot", "x": "42", "whatsapp": "1234567890"}.get(channel, "PAGE1")
    sender = platform_sender(channel, handle, "123:ABC" if channel == "telegram" else "tok")
    contact = factories.contact(1, channels=(channel,))
    identity = contact.identities.get()
    identity.platform_user_id = platform_id
    identity.save()
    conv = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    conv.last_inbound_at = last_inbound
    conv.save()
    [m] = messages_create(
        [
            Message(
                conversation=conv,
                sender=sender,
                channel=channel,
                direction="out",
                status="queued",
                body="Following up",
                attachments=list(attachments),
            )
        ]
    )
    return m


@pytest.mark.parametrize(
    ("channel", "platform_id", "last_inbound"),
    [
        ("messenger", "555", timedelta(hours=25)),
        ("instagram", "555", None),
        ("whatsapp", "555", timedelta(days=2)),
        ("x", "555", None),
        ("telegram", "", None),
    ],
)
def test_zero_sends_outside_the_rules_and_the_message_waits_with_a_reason(
    platform_channels, control, channel, platform_id, last_inbound
):
    last = timezone.now() - last_inbound if last_inbound else None
    message = _queued(channel, platform_id=platform_id, last_inbound=last)
    assert message_send(message_id=message.id) == "skipped"
    message.refresh_from_db()
    assert message.status == "queued"
    assert message.hold_reason.startswith("platform policy")
    assert message.not_before > timezone.now()
    assert control.outbox() == []


def test_whatsapp_outside_the_window_sends_the_template(platform_channels, control):
    template = {"type": "template", "name": "intro_v1", "language": "en_US", "params": ["Ana"]}
    control.post("users", platform="whatsapp", id="555")
    message = _queued(
        "whatsapp", last_inbound=timezone.now() - timedelta(days=2), attachments=[template]
    )
    assert message_send(message_id=message.id) == "sent"
    [sent] = control.outbox("whatsapp")
    assert sent["body"]["type"] == "template"


def test_the_fake_platform_enforces_the_window_on_its_own_clock(platform_channels, control):
    # Even if the engine's gate were wrong, the platform refuses: the fake keeps its own clock.
    control.post("users", platform="messenger", id="555")
    control.post("say", platform="messenger", user="555", account="PAGE1", text="hi")
    message = _queued("messenger", last_inbound=timezone.now())
    control.post("clock", advance=25 * 3600)
    assert message_send(message_id=message.id) == "failed"
    message.refresh_from_db()
    assert message.error_code == "meta_10_2018278"
    assert control.outbox() == []


@pytest.mark.parametrize("channel", ["linkedin", "tiktok", "snapchat"])
def test_linkedin_tiktok_and_snapchat_steps_become_manual_tasks(channel):
    sender = factories.sender(f"{channel} rep", channel=channel)
    contact = factories.contact(1, channels=(channel,))
    identity = contact.identities.get()
    conv = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    [m] = messages_create(
        [
            Message(
                conversation=conv,
                sender=sender,
                channel=channel,
                direction="out",
                status="queued",
                body="Hi, loved your post",
            )
        ]
    )
    task = ManualTask.objects.get(message=m)
    assert task.message.body == "Hi, loved your post"
    assert m.hold_reason.startswith("waiting for a rep")
