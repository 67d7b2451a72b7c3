"""Contract tests: each HTTP backend against the fake platform, over real HTTP. Request
shapes (URL, version, auth, body) for text and each media type, and every documented
error body mapped to the right normalized error."""

import pytest

from outreach.channels.base import (
    Ambiguous,
    AuthExpired,
    Bounced,
    OutgoingMessage,
    Permanent,
    PolicyWindowClosed,
    RateLimited,
    RecipientLimited,
    RecipientUnreachable,
    Transient,
)
from tests.channels.conftest import ago
from tests.processes import free_port

PAGE, IG, PHONE_ID, X_ME, BOT_TOKEN = "1122334455", "17841400000000", "1234567890", "42", "123:ABC"


def outgoing(channel: str, **kw) -> OutgoingMessage:
    defaults = {
        "message_id": 1,
        "idempotency_key": "k1",
        "channel": channel,
        "sender_handle": {"messenger": PAGE, "instagram": IG, "whatsapp": PHONE_ID}.get(
            channel, X_ME
        ),
        "sender_credentials": BOT_TOKEN if channel == "telegram" else "good-token",
        "recipient": "ana",
        "recipient_platform_id": "555",
        "body": "Hi Ana, here is the deck: https://ex.com/d",
        "last_inbound_at": ago(hours=1),
    }
    return OutgoingMessage(**(defaults | kw))


@pytest.fixture
def users(control):
    for platform in ("messenger", "instagram", "whatsapp", "x", "telegram"):
        control.post("users", platform=platform, id="555", started=True)
    control.post("accounts", platform="instagram", id=IG)
    for platform in ("messenger", "instagram", "x"):
        control.post("say", platform=platform, user="555", account="acc", text="hi")
    control.post("say", platform="whatsapp", user="555", account=PHONE_ID, text="hi")


# --- request shapes -----------------------------------------------------------------------


def test_messenger_text_goes_to_the_pinned_graph_version_with_the_page_token(
    platform_channels, control, users
):
    mid = platform_channels["messenger"].send(outgoing("messenger"))
    [sent] = control.outbox("messenger")
    assert mid.startswith("m_FAKE")
    assert sent["path"].startswith(f"/v25.0/{PAGE}/messages?access_token=good-token")
    assert sent["body"] == {
        "recipient": {"id": "555"},
        "messaging_type": "RESPONSE",
        # metadata comes back in the message_echoes webhook
        "message": {"text": "Hi Ana, here is the deck: https://ex.com/d", "metadata": "k1"},
    }


@pytest.mark.parametrize(
    ("kind", "wire"),
    [
        ("image", "image"),
        ("video", "video"),
        ("voice", "audio"),
        ("gif", "image"),
        ("file", "file"),
    ],
)
def test_instagram_sends_each_media_type_as_an_attachment(
    platform_channels, control, users, kind, wire
):
    msg = outgoing("instagram", body="", attachments=[{"type": kind, "url": "https://c/x"}])
    platform_channels["instagram"].send(msg)
    [sent] = control.outbox("instagram")
    assert sent["body"]["message"] == {
        "attachment": {"type": wire, "payload": {"url": "https://c/x"}}
    }
    assert sent["body"]["recipient"] == {"id": "555"}


def test_instagram_human_written_reply_after_a_day_uses_the_human_agent_tag(
    platform_channels, control, users
):
    control.post("clock", advance=3 * 86400)
    msg = outgoing("instagram", human_written=True, last_inbound_at=ago(days=3))
    platform_channels["instagram"].send(msg)
    [sent] = control.outbox("instagram")
    assert sent["body"]["messaging_type"] == "MESSAGE_TAG"
    assert sent["body"]["tag"] == "HUMAN_AGENT"


def test_instagram_private_reply_addresses_the_comment_once(platform_channels, control, users):
    comment = control.post("comment", platform="instagram", user="777", account=IG)["comment_id"]
    msg = outgoing("instagram", last_inbound_at=None, comment_id=comment, comment_at=ago(hours=2))
    platform_channels["instagram"].send(msg)
    [sent] = control.outbox("instagram")
    assert sent["body"]["recipient"] == {"comment_id": comment}
    with pytest.raises(Permanent):  # one private reply per comment
        platform_channels["instagram"].send(msg)


def test_instagram_public_reply_posts_the_text_to_the_comment_replies_edge(
    platform_channels, control, users
):
    comment = control.post("comment", platform="instagram", user="777", account=IG)["comment_id"]
    msg = outgoing("instagram", body="Thanks Ana! Check your DMs", public_reply_to=comment)
    reply_id = platform_channels["instagram"].send(msg)
    [sent] = control.outbox("instagram")
    # POST /{ig-comment-id}/replies?message=… answers {"id": "<the new comment>"}.
    assert sent["path"] == (
        f"/v25.0/{comment}/replies?message=Thanks+Ana%21+Check+your+DMs&access_token=good-token"
    )
    assert (sent["body"], sent["text"], sent["id"]) == ({}, msg.body, reply_id)
    assert reply_id.isdigit() and reply_id != comment


def test_facebook_public_reply_posts_the_message_to_the_comment_comments_edge(
    platform_channels, control, users
):
    comment = control.post("comment", platform="messenger", user="777", account=PAGE)["comment_id"]
    msg = outgoing("messenger", body="Thanks Ana!", public_reply_to=comment, last_inbound_at=None)
    reply_id = platform_channels["messenger"].send(msg)
    [sent] = control.outbox("messenger")
    # POST /{comment-id}/comments with the message as a form parameter.
    assert sent["path"] == f"/v25.0/{comment}/comments?access_token=good-token"
    assert (sent["body"], sent["id"]) == ({"message": "Thanks Ana!"}, reply_id)


def test_a_public_reply_to_a_missing_comment_or_on_the_wrong_edge_is_refused(
    platform_channels, control, users
):
    fb_comment = control.post("comment", platform="messenger", user="777", account=PAGE)[
        "comment_id"
    ]
    for channel, target in (("instagram", "17800000000000000"), ("instagram", fb_comment)):
        with pytest.raises(Permanent, match="Unsupported post request"):
            platform_channels[channel].send(outgoing(channel, public_reply_to=target))
    assert control.outbox() == []


def test_whatsapp_text_has_bearer_auth_and_the_cloud_api_body(platform_channels, control, users):
    wamid = platform_channels["whatsapp"].send(outgoing("whatsapp"))
    [sent] = control.outbox("whatsapp")
    assert wamid.startswith("wamid.")
    assert sent["auth"] == "good-token"
    assert sent["path"] == f"/v25.0/{PHONE_ID}/messages"
    assert sent["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "555",
        "type": "text",
        "text": {"body": "Hi Ana, here is the deck: https://ex.com/d", "preview_url": True},
        "biz_opaque_callback_data": "k1",  # echoed in its status webhooks
    }


def test_whatsapp_template_carries_name_language_and_parameters(platform_channels, control):
    template = {"type": "template", "name": "intro_v1", "language": "en_US", "params": ["Ana"]}
    platform_channels["whatsapp"].send(outgoing("whatsapp", attachments=[template]))
    [sent] = control.outbox("whatsapp")
    assert sent["body"]["type"] == "template"
    assert sent["body"]["template"] == {
        "name": "intro_v1",
        "language": {"policy": "deterministic", "code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
    }


@pytest.mark.parametrize(
    ("kind", "wire"),
    [("image", "image"), ("video", "video"), ("voice", "audio"), ("file", "document")],
)
def test_whatsapp_media_uses_links_and_captions(platform_channels, control, users, kind, wire):
    attachment = {"type": kind, "url": "https://c/m", "name": "deck.pdf"}
    platform_channels["whatsapp"].send(outgoing("whatsapp", body="", attachments=[attachment]))
    [sent] = control.outbox("whatsapp")
    assert sent["body"]["type"] == wire
    assert sent["body"][wire]["link"] == "https://c/m"


def test_x_dm_goes_to_the_participant_with_a_user_token(platform_channels, control, users):
    event_id = platform_channels["x"].send(outgoing("x", body="Thanks for writing!"))
    [sent] = control.outbox("x")
    assert event_id.isdigit()
    assert sent["path"] == "/2/dm_conversations/with/555/messages"
    assert sent["auth"] == "good-token"
    assert sent["body"] == {"text": "Thanks for writing!"}


def test_x_dm_media_is_one_uploaded_media_id(platform_channels, control, users):
    msg = outgoing("x", attachments=[{"type": "image", "media_id": "1455952740635586573"}])
    platform_channels["x"].send(msg)
    assert control.outbox("x")[0]["body"]["attachments"] == [{"media_id": "1455952740635586573"}]


@pytest.mark.parametrize(
    ("kind", "method", "field"),
    [
        (None, "sendMessage", "text"),
        ("image", "sendPhoto", "photo"),
        ("video", "sendVideo", "video"),
        ("voice", "sendVoice", "voice"),
        ("gif", "sendAnimation", "animation"),
        ("file", "sendDocument", "document"),
    ],
)
def test_telegram_picks_the_bot_api_method_per_media_type(
    platform_channels, control, users, kind, method, field
):
    attachments = [{"type": kind, "url": "https://c/m"}] if kind else []
    provider_id = platform_channels["telegram"].send(outgoing("telegram", attachments=attachments))
    [sent] = control.outbox("telegram")
    assert sent["path"] == f"/bot{BOT_TOKEN}/{method}"
    assert sent["body"]["chat_id"] == "555"
    assert field in sent["body"]
    assert provider_id == "555:1"  # message ids are per chat


def test_telegram_sends_photos_and_videos_as_one_album_with_the_text_as_caption(
    platform_channels, control, users
):
    attachments = [
        {"type": "image", "url": "https://c/1.jpg"},
        {"type": "video", "url": "https://c/2.mp4"},
        {"type": "image", "url": "https://c/3.jpg"},
    ]
    provider_id = platform_channels["telegram"].send(outgoing("telegram", attachments=attachments))
    [sent] = control.outbox("telegram")
    assert sent["path"] == f"/bot{BOT_TOKEN}/sendMediaGroup"
    assert sent["body"]["media"] == [
        {"type": "photo", "media": "https://c/1.jpg", "caption": outgoing("telegram").body},
        {"type": "video", "media": "https://c/2.mp4"},
        {"type": "photo", "media": "https://c/3.jpg"},
    ]
    assert provider_id == "555:1"


def test_telegram_sends_every_attachment_voice_notes_and_files_on_their_own(
    platform_channels, control, users
):
    attachments = [
        {"type": "image", "url": "https://c/1.jpg"},
        {"type": "voice", "url": "https://c/v.ogg"},
        {"type": "file", "url": "https://c/a.pdf"},
        {"type": "file", "url": "https://c/b.pdf"},
    ]
    platform_channels["telegram"].send(outgoing("telegram", attachments=attachments))
    sent = control.outbox("telegram")
    assert [s["body"]["method"] for s in sent] == ["sendPhoto", "sendVoice", "sendMediaGroup"]
    assert sent[0]["body"]["caption"] == outgoing("telegram").body
    assert "caption" not in sent[1]["body"]
    assert [m["type"] for m in sent[2]["body"]["media"]] == ["document", "document"]


def test_telegram_failure_after_the_first_part_is_ambiguous_not_a_resend(
    platform_channels, control, users
):
    control.post("errors", platform="telegram", error="bad_gateway", after=1)
    attachments = [
        {"type": "voice", "url": "https://c/v.ogg"},
        {"type": "gif", "url": "https://c/g.mp4"},
    ]
    with pytest.raises(Ambiguous, match="partly sent"):
        platform_channels["telegram"].send(outgoing("telegram", attachments=attachments))
    assert len(control.outbox("telegram")) == 1


# --- every documented error -> the normalized error -----------------------------------------

ERRORS = [
    ("messenger", "outside_window", PolicyWindowClosed),
    ("messenger", "outside_window_news", PolicyWindowClosed),
    ("messenger", "unavailable", RecipientUnreachable),
    ("messenger", "no_matching_user", RecipientUnreachable),
    ("messenger", "token_expired", AuthExpired),
    ("messenger", "app_limit", RateLimited),
    ("messenger", "user_too_many_actions", RateLimited),
    ("messenger", "page_throttled", RateLimited),
    ("messenger", "rate_limit_613", RateLimited),
    ("messenger", "temporary_failure", Transient),
    ("messenger", "unexpected", Transient),
    ("messenger", "permission_missing", Permanent),
    ("messenger", "server_error", Ambiguous),
    ("instagram", "outside_window", PolicyWindowClosed),
    ("instagram", "token_expired", AuthExpired),
    ("instagram", "unavailable", RecipientUnreachable),
    ("instagram", "rate_limit_613", RateLimited),
    ("whatsapp", "token_expired", AuthExpired),
    ("whatsapp", "auth_exception", AuthExpired),
    ("whatsapp", "throughput", RateLimited),
    ("whatsapp", "pair_rate_limit", RateLimited),
    ("whatsapp", "waba_rate_limit", RateLimited),
    ("whatsapp", "ecosystem_cap", RecipientLimited),
    ("whatsapp", "re_engagement", PolicyWindowClosed),
    ("whatsapp", "undeliverable", Bounced),
    ("whatsapp", "marketing_opt_out", RecipientUnreachable),
    ("whatsapp", "service_unavailable", Transient),
    ("whatsapp", "template_params", Permanent),
    ("whatsapp", "account_locked", AuthExpired),
    ("whatsapp", "bad_parameter", Permanent),
    ("x", "rate_limited", RateLimited),
    ("x", "not_permitted", RecipientUnreachable),
    ("x", "media_forbidden", Permanent),
    ("x", "unauthorized", AuthExpired),
    ("x", "user_not_found", RecipientUnreachable),
    ("x", "invalid_request", Permanent),
    ("x", "service_unavailable", Ambiguous),
    ("telegram", "cant_initiate", PolicyWindowClosed),
    ("telegram", "blocked", RecipientUnreachable),
    ("telegram", "deactivated", RecipientUnreachable),
    ("telegram", "chat_not_found", RecipientUnreachable),
    ("telegram", "unauthorized", AuthExpired),
    ("telegram", "flood", RateLimited),
    ("telegram", "migrated", Permanent),
    ("telegram", "bad_gateway", Ambiguous),
]


@pytest.mark.parametrize(("platform", "error", "expected"), ERRORS)
def test_platform_error_maps_to_the_normalized_error(
    platform_channels, control, users, platform, error, expected
):
    control.post("errors", platform=platform, error=error)
    with pytest.raises(expected) as caught:
        platform_channels[platform].send(outgoing(platform))
    assert type(caught.value) is expected
    assert control.outbox(platform) == []


def test_rate_limits_carry_the_platforms_retry_hint(platform_channels, control, users):
    control.post("errors", platform="telegram", error="flood")
    with pytest.raises(RateLimited) as tg:
        platform_channels["telegram"].send(outgoing("telegram"))
    control.post("errors", platform="messenger", error="page_throttled")
    with pytest.raises(RateLimited) as fb:
        platform_channels["messenger"].send(outgoing("messenger"))
    control.post("errors", platform="x", error="rate_limited")
    with pytest.raises(RateLimited) as x:
        platform_channels["x"].send(outgoing("x"))
    assert tg.value.retry_after == 35
    assert fb.value.retry_after == 7 * 60  # estimated_time_to_regain_access is in minutes
    assert 30 < x.value.retry_after <= 61  # x-rate-limit-reset is an epoch second


def test_an_unknown_graph_version_is_refused(platform_channels, control, users, settings):
    opts = settings.OUTREACH_CHANNELS["messenger"]["OPTIONS"] | {"api_version": "v99.0"}
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "messenger": {
            "BACKEND": "outreach.channels.meta.backend.MessengerChannel",
            "OPTIONS": opts,
        },
    }
    from outreach.channels import get_channel

    with pytest.raises(Permanent, match="Unknown path"):
        get_channel("messenger").send(outgoing("messenger"))


def test_an_unreachable_platform_is_transient_not_ambiguous(settings):
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "telegram": {
            "BACKEND": "outreach.channels.telegram.backend.TelegramChannel",
            "OPTIONS": {"base_url": f"http://127.0.0.1:{free_port()}"},
        },
    }
    from outreach.channels import get_channel

    with pytest.raises(Transient):
        get_channel("telegram").send(outgoing("telegram"))
