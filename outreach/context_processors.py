"""Template context every page built on base.html needs."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from outreach.models import SendingSwitch


def sending_switch(request: HttpRequest) -> dict:
    """Whether the kill switch is on, for the banner on every dashboard page. Lazy: read
    only by a page that shows it (not by the admin's own pages, nor for anonymous users)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_staff:
        return {"sending_paused": False}
    return {"sending_paused": SimpleLazyObject(SendingSwitch.is_paused)}
