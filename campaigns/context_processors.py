"""Template context for the navbar of every page built on base.html."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from campaigns.manual_tasks import manual_tasks_due


def tasks_due(request: HttpRequest) -> dict:
    """How many manual tasks the user has due (the "Tasks" badge). Lazy: counted only by a
    page that shows it (not by the admin's own pages)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"tasks_due": 0}
    return {"tasks_due": SimpleLazyObject(lambda: manual_tasks_due(user).count())}
