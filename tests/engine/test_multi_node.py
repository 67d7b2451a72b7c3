"""The engine on several machines: web under gunicorn, and Celery workers with their own node
names bound to different queues (config/queues.py), as separate hosts run them, against one
PostgreSQL and one Redis. A campaign is launched over the REST API, sends to the fake
Telegram, a contact's signed reply stops their follow-up, and a send node is SIGKILLed
mid-way and replaced: nothing is sent twice and nothing is lost."""

from collections import Counter
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User

from campaigns.models import Enrollment
from contacts.models import Identity
from core.api_tokens import api_token_create
from fakeplatform.platforms import PlatformServer
from outreach.models import Message
from tests import factories
from tests.processes import BIN, Proc, celery_worker, child_env, free_port, stop_all, wait_for

pytestmark = [
    pytest.mark.live_worker,
    pytest.mark.chaos,
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
]
SECRET = "multi-node-telegram-secret"
CONTACTS, FOLLOW_UP = 24, 6.0
FIRST_CHAT = 300_000


@pytest.fixture
def platform():
    server = PlatformServer().start()
    for n in range(CONTACTS):  # people who started the bots, so they may write to them
        user = server.platforms.user("telegram", str(FIRST_CHAT + n))
        user.update(started=True, last_inbound=server.platforms.now())
    yield server
    server.stop()


@pytest.fixture
def nodes(log_dir: Path, clean_broker):
    started: list[Proc] = []
    yield started
    stop_all(started)


def web_node(env: dict[str, str], log_dir: Path) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc(
        "web@hostW",
        [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        env,
        log_dir,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return not proc.alive()

    wait_for(up, 60, message="gunicorn to answer")
    assert proc.alive(), proc.log()[-3000:]
    return proc, url


def build_campaign():
    senders = []
    for name in ("a", "b", "c"):
        bot = factories.sender(f"bot_{name}", channel="telegram", gap=(0.2, 0.4))
        bot.handle, bot.credentials = f"bot_{name}", f"1{name}:token-{name}"
        bot.save(update_fields=["handle", "credentials"])
        senders.append(bot)
    campaign = factories.campaign(
        senders=senders, steps=(("telegram", 0), ("telegram", FOLLOW_UP)), name="Nodes"
    )
    contacts = []
    for n in range(CONTACTS):
        contact = factories.contact(n, channels=("telegram",))
        Identity.objects.filter(contact=contact).update(platform_user_id=str(FIRST_CHAT + n))
        contacts.append(contact)
    return campaign, contacts


def sends(platform: PlatformServer) -> list[tuple[str, str]]:
    with platform.platforms.lock:
        rows = list(platform.platforms.outbox)
    return [
        (str(r["body"]["chat_id"]), r["body"]["text"])
        for r in rows
        if r["platform"] == "telegram" and r["body"].get("method") == "sendMessage"
    ]


def test_nodes_on_other_hosts_run_a_campaign_stop_on_a_reply_and_survive_a_killed_sender(
    platform, nodes, log_dir, tmp_path
):
    (tmp_path / "var").mkdir()  # beat's schedule file
    env = child_env(
        PLATFORM_BACKENDS="true",
        PLATFORM_BASE_URL=platform.url,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        DISPATCH_INTERVAL="0.3",
        REQUEUE_AFTER="3",
        # Long enough that only the killed node's send is in doubt on a loaded machine (a
        # batch's last message is claimed with its first).
        SEND_GRACE="20",
        DATABASE_CONN_MAX_AGE="0",
        VAR_DIR=str(tmp_path / "var"),
    )
    web, url = web_node(env, log_dir)
    nodes.append(web)

    def worker(name: str, host: str, queues: list[str]) -> Proc:
        proc = celery_worker(name, env, log_dir, concurrency=1, queues=queues, host=host)
        nodes.append(proc)
        return proc

    worker("inbound", "hostA", ["inbound"])
    doomed = worker("send", "hostB", ["send", "human"])
    worker("send", "hostC", ["send", "human"])
    worker("dispatch", "hostD", ["dispatch", "bulk"])
    beat = [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "INFO"]
    nodes.append(Proc("beat@hostD", beat, env, log_dir))

    campaign, contacts = build_campaign()
    admin = User.objects.create_superuser("ops", "ops@example.com", "ops-pass-123")
    _, key = api_token_create(user=admin, name="multi-node test")
    api = httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=30)
    enrolled = api.post(
        "/api/v1/enrollments/",
        json={"campaign": campaign.id, "contacts": [c.id for c in contacts]},
    )
    assert enrolled.status_code == 201, enrolled.text
    launched = api.post(f"/api/v1/campaigns/{campaign.id}/launch/", json={"confirm_warnings": True})
    assert launched.status_code == 200, launched.text

    # The first contact whose intro arrived replies on Telegram, before their follow-up is due.
    wait_for(lambda: sends(platform), 60, message="the first intro to reach the platform")
    chat, _ = sends(platform)[0]
    replier = Enrollment.objects.get(campaign=campaign, contact__identities__platform_user_id=chat)
    platform.platforms.webhooks["telegram"] = {"url": f"{url}/webhooks/telegram/", "secret": SECRET}
    said = httpx.post(
        f"{platform.url}/_fake/say",
        json={
            "platform": "telegram",
            "user": chat,
            "account": replier.sender.handle,
            "text": "Yes",
        },
        timeout=20,
    ).json()
    assert said["statuses"] == [200]
    wait_for(
        lambda: Enrollment.objects.get(id=replier.id).state == "replied",
        FOLLOW_UP,
        message="the reply to stop the contact's follow-up before it is due",
    )

    # Mid-way, a send node loses power; a replacement node joins, as a supervisor starts it.
    wait_for(lambda: len(sends(platform)) >= CONTACTS // 2, 60, message="half the intros")
    doomed.kill()
    worker("send", "hostE", ["send", "human"])

    def settled() -> bool:
        live = Enrollment.objects.filter(campaign=campaign).exclude(
            state__in=["completed", "replied"]
        )
        # A send the kill left ambiguous waits for a person's review (Telegram cannot be
        # asked whether it arrived), and its enrollment with it.
        return not live.exclude(sends__message__status="unknown").exists()

    wait_for(settled, 180, interval=0.5, message="every enrollment to finish")
    arrived = sends(platform)
    twice = {k: n for k, n in Counter(arrived).items() if n > 1}
    assert twice == {}, f"sent twice: {twice}"
    # Lost: a step of a contact that neither reached the platform nor waits for a person's
    # review. The kill leaves in review what its batch had not recorded yet (sent or not:
    # Telegram cannot be asked), and nothing else is in doubt.
    expected = {
        (str(FIRST_CHAT + n), f"Hi Lead{n} (step {step})")
        for n in range(CONTACTS)
        for step in (1, 2)
    } - {(chat, f"Hi Lead{int(chat) - FIRST_CHAT} (step 2)")}
    doubt = Message.objects.filter(status="unknown")
    reasons = set(doubt.values_list("events__detail", flat=True)) - {"", "attempt 1"}
    assert reasons <= {"worker stopped before recording the outcome", "sent to the review queue"}
    in_review = set(doubt.values_list("conversation__identity__platform_user_id", "body"))
    # A contact whose intro is in review waits with it: their follow-up is not due yet.
    waiting = {(c, body.replace("(step 1)", "(step 2)")) for c, body in in_review}
    lost = expected - set(arrived) - in_review - waiting
    assert lost == set(), f"lost: {sorted(lost)}"
    assert set(arrived) <= expected, "something was sent that should not have been"
    replier_texts = [text for c, text in arrived if c == chat]
    assert len(replier_texts) == 1 and "(step 1)" in replier_texts[0], replier_texts
