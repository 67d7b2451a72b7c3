"""Set-up shared by the browser tests: where screenshots go, whether a page fits its window,
and a page logged in through the app's login form."""

from contextlib import contextmanager
from pathlib import Path

ARTEFACTS = Path(__file__).resolve().parents[1] / "var" / "artefacts"


def fits(page) -> bool:
    """The page does not scroll sideways in its window."""
    return page.evaluate("document.documentElement.scrollWidth <= innerWidth")


@contextmanager
def logged_in_at(
    chromium,
    live_server,
    next_url: str,
    *,
    username: str = "ann",
    password: str = "pw-123456-x",
    lands_on: str | None = None,
    width: int = 1440,
    height: int = 900,
    **context_options,
):
    """A fresh browser page logged in through the login form, on `next_url` (or on `lands_on`,
    a URL glob, when `next_url` redirects); its browser context is closed when the block ends.

    The default user is rep "ann" of tests.inbox.helpers.rep; `context_options` go to
    `chromium.new_context` (e.g. `timezone_id`, `permissions`)."""
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": width, "height": height}, **context_options
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"/accounts/login/?next={next_url}")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(lands_on or f"**{next_url}")
        yield page
    finally:
        context.close()
