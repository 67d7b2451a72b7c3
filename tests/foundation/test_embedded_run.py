"""The README's run command, on a fresh data folder: SQLite and the filesystem broker."""

import os
import re
import signal
import sqlite3
import subprocess

import httpx
import pytest

from tests.processes import ROOT, free_port, wait_for

pytestmark = pytest.mark.live_worker


def test_make_run_serves_the_admin_and_sends_the_demo_campaign(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CHANNEL_BACKEND"}
        # `make test VAR_DIR=…` passes its variables on to our `make run` through MAKEFLAGS.
        and k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    }
    env.update(
        {
            "VAR_DIR": str(tmp_path / "var"),
            "WEB_PORT": str(port),
            "DISPATCH_INTERVAL": "0.5",
            "FAKE_PLATFORM_PORT": str(free_port()),
        }
    )
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "password:" in log.read_text(), 120, message="the demo login")
        password = re.search(r"password: (\S+)", log.read_text()).group(1)
        base = f"http://127.0.0.1:{port}"

        def web_up() -> bool:
            try:
                return httpx.get(f"{base}/health/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(web_up, 60, message="the web server")
        with httpx.Client(base_url=base, follow_redirects=True) as web:
            login = web.get("/admin/login/")
            token = web.cookies["csrftoken"]
            assert login.status_code == 200
            web.post(
                "/admin/login/",
                data={
                    "username": "admin",
                    "password": password,
                    "csrfmiddlewaretoken": token,
                    "next": "/admin/",
                },
            )
            contacts = web.get("/admin/contacts/contact/")
            assert "Nordlicht GmbH" in contacts.text
            assert "Demo: spring outreach" in web.get("/admin/campaigns/campaign/").text

        db = tmp_path / "var" / "db.sqlite3"

        def sent() -> int:
            with sqlite3.connect(db) as conn:
                return conn.execute(
                    "SELECT count(*) FROM outreach_message WHERE status = 'sent'"
                ).fetchone()[0]

        # Beat ticks the dispatcher, the worker sends: a full round trip through the broker.
        wait_for(lambda: sent() >= 2, 90, interval=0.5, message="demo messages to be sent")
        assert "Subject:" in log.read_text()

        # The loop: a contact replies on the fake platform, its signed webhook reaches the
        # engine, the worker records the reply and the contact's follow-ups stop.
        reply = subprocess.run(
            ["make", "demo-reply"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90
        )
        assert reply.returncode == 0, reply.stdout + reply.stderr
        assert "HTTP [200]" in reply.stdout
        with sqlite3.connect(db) as conn:
            replied = conn.execute(
                "SELECT count(*) FROM campaigns_enrollment WHERE state = 'replied'"
            ).fetchone()[0]
            inbound = conn.execute(
                "SELECT count(*) FROM outreach_message WHERE direction = 'in'"
            ).fetchone()[0]
        assert (replied, inbound) == (1, 1)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("Ctrl-C did not stop the engine") from None
    left = subprocess.run(
        ["pgrep", "-f", f"runserver --noreload 127.0.0.1:{port}"], capture_output=True, text=True
    )
    assert left.stdout == "", "web server still running after Ctrl-C"
