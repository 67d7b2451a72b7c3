"""Set-up shared by the sequence builder's browser tests (test_builder_browser.py,
test_whatsapp_step_browser.py)."""

from contextlib import contextmanager
from pathlib import Path

ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "artefacts"


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= innerWidth")


@contextmanager
def logged_in_at(chromium, live_server, next_url: str, *, width: int = 1440, height: int = 900):
    """A fresh browser page logged in as rep "ann" (tests.inbox.helpers.rep) through the login
    form, on `next_url`; its browser context is closed when the block ends."""
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": width, "height": height}
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"/accounts/login/?next={next_url}")
        page.fill("#id_username", "ann")
        page.fill("#id_password", "pw-123456-x")
        page.click("button[type=submit]")
        page.wait_for_url(f"**{next_url}")
        yield page
    finally:
        context.close()
