"""The media library: uploads kept under VAR_DIR/media or URLs, referenced from templates as
{"asset": id} beside old-style attachments; per-channel size/type limits refuse a launch and,
if the asset changed since, the send itself."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import Step
from campaigns.services import campaign_launch_problems, enrollments_create
from outreach.media import MB
from outreach.models import MediaAsset, Message
from outreach.sending.create import conversations_for, messages_create
from outreach.sending.deliver import message_send
from tests import factories
from tests.channels.helpers import platform_sender

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploaded(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path

    def make(name: str, size: int, kind: str = "image", ctype: str = "image/jpeg") -> MediaAsset:
        upload = SimpleUploadedFile(name, b"\0" * size, content_type=ctype)
        return MediaAsset.objects.create(name=name, kind=kind, file=upload)

    return make


def _campaign_with(channel: str, attachments: list[dict]):
    sender = factories.sender(f"{channel} sender", channel=channel)
    camp = factories.campaign(senders=[sender], steps=((channel, 0),))
    step = Step.objects.get(sequence=camp.sequence)
    step.template.attachments = attachments
    step.template.save(update_fields=["attachments"])
    enrollments_create(campaign=camp, contacts=[factories.contact(1, channels=(channel,))])
    return camp


def test_an_upload_is_stored_under_media_with_its_size_and_type(uploaded):
    asset = uploaded("deck.jpg", 1000)
    assert (asset.size, asset.content_type) == (1000, "image/jpeg")
    assert Path(asset.file.path).is_relative_to(Path(settings.MEDIA_ROOT) / "media")
    assert asset.public_url.startswith(f"{settings.PUBLIC_URL.rstrip('/')}/files/{asset.pk}/?sig=")


def test_a_6_mb_image_cannot_launch_on_whatsapp_but_can_on_messenger(uploaded):
    big = uploaded("photo.jpg", 6 * MB)
    problems = campaign_launch_problems(campaign=_campaign_with("whatsapp", [{"asset": big.id}]))
    assert problems == ["Step 1: photo.jpg: 6 MB is over whatsapp's 5 MB limit for image"]
    assert campaign_launch_problems(campaign=_campaign_with("messenger", [{"asset": big.id}])) == []


def test_wrong_type_unsupported_kind_and_missing_asset_are_launch_problems(uploaded):
    webp = uploaded("pic.webp", 1000, ctype="image/webp")
    gif = MediaAsset.objects.create(
        name="wave", kind="gif", url="https://cdn.example/w.gif", content_type="image/gif"
    )
    problems = campaign_launch_problems(
        campaign=_campaign_with("whatsapp", [{"asset": webp.id}, {"asset": gif.id}, {"asset": 999}])
    )
    assert sorted(problems) == [
        "Step 1: media asset 999 no longer exists",
        "Step 1: pic.webp: whatsapp takes image as image/jpeg, image/png",
        "Step 1: wave: whatsapp takes gif as video/mp4",
    ]


def test_old_style_url_attachments_and_email_links_still_launch():
    old = [{"type": "image", "url": "https://cdn.example/p.jpg", "name": "p"}]
    assert campaign_launch_problems(campaign=_campaign_with("telegram", old)) == []
    assert campaign_launch_problems(campaign=_campaign_with("email", old)) == []


def _telegram_message(attachments):
    sender = platform_sender("telegram", "demo_bot", credentials="123:abc")
    contact = factories.contact(1, channels=("telegram",))
    identity = contact.identities.get()
    identity.platform_user_id = "4242"
    identity.save(update_fields=["platform_user_id"])
    conv = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    [m] = messages_create(
        [
            Message(
                conversation=conv,
                sender=sender,
                channel="telegram",
                direction="out",
                status="queued",
                body="Here is the deck",
                attachments=attachments,
            )
        ]
    )
    return m


def test_an_asset_goes_out_as_the_platform_expects(platform_channels, control, uploaded, client):
    control.post("users", platform="telegram", id="4242", started=True)
    asset = uploaded("deck.jpg", 2 * MB)
    m = _telegram_message([{"asset": asset.id}])
    assert message_send(message_id=m.id) == "sent"
    [sent] = control.outbox("telegram")
    assert sent["body"]["method"] == "sendPhoto"
    # The link is signed with the time it was made, so compare what it opens, not its text.
    prefix = f"{settings.PUBLIC_URL.rstrip('/')}/files/{asset.pk}/?sig="
    assert sent["body"]["photo"].startswith(prefix)
    fetched = client.get(sent["body"]["photo"].removeprefix(settings.PUBLIC_URL.rstrip("/")))
    assert fetched.status_code == 200
    assert b"".join(fetched.streaming_content if fetched.streaming else [fetched.content]) == (
        b"\0" * 2 * MB
    )
    assert sent["body"]["caption"] == "Here is the deck"


def test_an_asset_over_the_limit_at_send_time_fails_without_a_request(
    platform_channels, control, uploaded
):
    control.post("users", platform="telegram", id="4242", started=True)
    asset = uploaded("deck.jpg", 2 * MB)
    m = _telegram_message([{"asset": asset.id}])
    MediaAsset.objects.filter(id=asset.id).update(size=6 * MB)  # replaced after launch
    message_send(message_id=m.id)
    m.refresh_from_db()
    assert m.status == "failed"
    assert "over telegram's 5 MB limit" in (m.error_reason + m.hold_reason)
    assert control.outbox("telegram") == []


BROKEN_ATTACHMENTS = [
    (["https://x.io/a.pdf"], '"https://x.io/a.pdf" is not an object'),
    ([{"url": "https://x.io/a.pdf"}], "type null is not one of"),
    (
        [{"type": "image", "url": "https://x.io/a.png", "size": "5000000"}],
        'size "5000000" is not a number of bytes',
    ),
    ([{"type": "file", "url": "x.io/a.pdf"}], '"x.io/a.pdf" is not an http(s) URL'),
    ([{"asset": "deck"}], 'asset "deck" is not a media asset id'),
]


@pytest.mark.parametrize(("attachments", "reason"), BROKEN_ATTACHMENTS)
def test_the_template_admin_refuses_attachments_the_senders_cannot_read(
    admin_client, attachments, reason
):
    data = {
        "name": "Deck",
        "channel": "instagram",
        "subject": "",
        "body": "Hi {{ first_name }}",
        "attachments": json.dumps(attachments),
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    response = admin_client.post("/admin/campaigns/template/add/", data)
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["attachments"]
    assert error.startswith("attachment 1: ") and reason in error


@pytest.mark.parametrize(("attachments", "reason"), BROKEN_ATTACHMENTS)
def test_a_broken_attachment_saved_before_validation_is_a_launch_problem_not_a_500(
    attachments, reason
):
    problems = campaign_launch_problems(campaign=_campaign_with("instagram", attachments))
    assert len(problems) == 1
    assert problems[0].startswith("Step 1: attachment 1: ") and reason in problems[0]


def test_a_broken_attachment_saved_before_validation_fails_its_message_before_sending(
    platform_channels, control
):
    control.post("users", platform="telegram", id="4242", started=True)
    m = _telegram_message(["https://x.io/a.pdf"])
    message_send(message_id=m.id)
    m.refresh_from_db()
    assert m.status == "failed"
    assert m.error_reason.startswith('attachment: attachment 1: "https://x.io/a.pdf" is not')
    assert control.outbox("telegram") == []
