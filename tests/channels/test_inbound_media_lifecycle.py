"""What happens to a stored copy of inbound media after it is kept: an unsend, an erasure or
retention removes the file with the message's content; a link to anywhere but the
platform's own media hosts is never fetched. Signed webhook bytes through the real endpoint,
then the processing and the download the worker's tasks run (tests/channels/
test_inbound_media.py runs them in a real worker)."""

import base64
import copy
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from campaigns.privacy import contact_erase
from outreach.inbound_media import inbound_media_fetch, inbound_media_sweep
from outreach.models import Message
from outreach.retention import message_bodies_expire
from tests.channels.helpers import deliver, platform_sender, process_all
from tests.channels.test_inbound_media import PAGE, messenger_image, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _kept_image(client, control) -> tuple[Message, dict, dict]:
    """A Messenger image, received and downloaded: (message, its entry, the webhook body)."""
    platform_sender("messenger", PAGE, "page-token")
    b64 = base64.b64encode(png()).decode()
    ref = control.post("media", platform="messenger", content_b64=b64, content_type="image/png")
    body = messenger_image(ref["url"])
    assert deliver(client, "messenger", body) == 200
    assert process_all() == ["reply"]
    message = Message.objects.get(direction="in")
    assert inbound_media_fetch(message_id=message.id) == "stored"
    message.refresh_from_db()
    entry = message.attachments[0]
    assert default_storage.exists(entry["stored"])
    return message, entry, body


def test_an_unsent_image_loses_its_stored_copy(
    client, control, platform_channels, media_root, django_capture_on_commit_callbacks
):
    message, entry, body = _kept_image(client, control)
    unsend = copy.deepcopy(body)
    mid = body["entry"][0]["messaging"][0]["message"]["mid"]
    unsend["entry"][0]["messaging"][0]["message"] = {"mid": mid, "is_deleted": True}
    assert deliver(client, "messenger", unsend) == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert process_all() == ["unsent: redacted"]
    message.refresh_from_db()
    assert message.attachments == [] and message.deleted_at is not None
    assert not default_storage.exists(entry["stored"])


def test_erasing_the_contact_deletes_the_stored_copies_of_what_they_sent(
    client, control, platform_channels, media_root, django_capture_on_commit_callbacks
):
    message, entry, _ = _kept_image(client, control)
    with django_capture_on_commit_callbacks(execute=True):
        contact_erase(contact=message.conversation.identity.contact)
    message.refresh_from_db()
    assert message.attachments == []
    assert not default_storage.exists(entry["stored"])


def test_retention_deletes_the_stored_copies_with_the_bodies(
    client, control, platform_channels, media_root, settings, django_capture_on_commit_callbacks
):
    message, entry, _ = _kept_image(client, control)
    settings.MESSAGE_BODY_RETENTION_DAYS = 30
    with django_capture_on_commit_callbacks(execute=True):
        assert message_bodies_expire(now=timezone.now() + timedelta(days=31)) == 1
    message.refresh_from_db()
    assert message.attachments == []
    assert not default_storage.exists(entry["stored"])


def test_a_link_to_anywhere_but_metas_media_hosts_is_never_fetched(
    client, control, platform_channels, media_root, django_user_model
):
    platform_sender("messenger", PAGE, "page-token")
    body = messenger_image("http://169.254.169.254/latest/meta-data/iam/")
    assert deliver(client, "messenger", body) == 200
    assert process_all() == ["reply"]
    message = Message.objects.get(direction="in")
    assert inbound_media_fetch(message_id=message.id) == "failed"
    message.refresh_from_db()
    image = message.attachments[0]
    assert image["fetch_error"] == "169.254.169.254 is not a messenger media host"
    assert "stored" not in image
    admin = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-1234567")
    client.force_login(admin)
    page = client.get(f"/inbox/{message.conversation_id}/").content.decode()
    assert "image not kept: 169.254.169.254 is not a messenger media host" in page


def test_a_message_fetched_twice_keeps_one_copy(client, control, platform_channels, media_root):
    message, entry, _ = _kept_image(client, control)
    assert inbound_media_fetch(message_id=message.id) == "nothing to fetch"
    message.refresh_from_db()
    assert message.attachments[0]["stored"] == entry["stored"]
    assert len(list(media_root.rglob("*.png"))) == 1


def test_an_attachment_whose_download_task_was_lost_is_fetched_by_the_sweep(
    client, control, platform_channels, media_root
):
    platform_sender("messenger", PAGE, "page-token")
    b64 = base64.b64encode(png()).decode()
    ref = control.post("media", platform="messenger", content_b64=b64, content_type="image/png")
    # In this test's transaction the task queued on commit never goes: as if the broker
    # had been down when the message was stored.
    assert deliver(client, "messenger", messenger_image(ref["url"])) == 200
    assert process_all() == ["reply"]
    message = Message.objects.get(direction="in")
    assert "fetch" not in message.attachments[0]

    assert inbound_media_sweep() == 0  # a queued task may still be at it
    assert inbound_media_sweep(now=timezone.now() + timedelta(minutes=30)) == 1
    message.refresh_from_db()
    assert message.attachments[0]["fetch"] == "stored"
    assert inbound_media_sweep(now=timezone.now() + timedelta(minutes=30)) == 0
