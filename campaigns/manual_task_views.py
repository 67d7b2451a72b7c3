"""The task queue page (/tasks/): a rep's manual steps, outside the admin. Every view loads
tasks through outreach.access.manual_tasks_visible_to, so another team's task is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns import manual_tasks
from outreach.access import manual_tasks_visible_to
from outreach.models import ManualTask

PAGE_SIZE = 100  # tasks shown at once; the rest follow as these are done
GONE = "That task is no longer due (done already, or its sequence paused or stopped)."


@login_required
def task_queue(request: HttpRequest) -> HttpResponse:
    choices = manual_tasks.manual_channels()
    channel = request.GET.get("channel", "")
    if channel not in dict(choices):
        channel = ""
    tasks = manual_tasks.manual_tasks_due(request.user)
    if channel:
        tasks = tasks.filter(message__channel=channel)
    context = {
        "rows": manual_tasks.task_rows(tasks[:PAGE_SIZE], timezone.now()),
        "total": tasks.count(),
        "channels": choices,
        "channel": channel,
    }
    return render(request, "campaigns/tasks.html", context)


def _task(request: HttpRequest, pk: int) -> ManualTask:
    return get_object_or_404(
        manual_tasks_visible_to(request.user).select_related("message__conversation__identity"),
        pk=pk,
    )


def _back(request: HttpRequest) -> HttpResponse:
    channel = request.POST.get("channel", "")
    response = redirect("tasks:queue")
    if channel in dict(manual_tasks.manual_channels()):
        response["Location"] += f"?channel={channel}"
    return response


@login_required
@require_POST
def task_sent(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    if manual_tasks.manual_task_sent(task=task, actor=request.user):
        contact = task.message.conversation.identity.contact
        next_step = manual_tasks.next_step_note(task=task)
        messages.success(request, f"Marked as sent to {contact}. {next_step}".strip())
    else:
        messages.warning(request, GONE)
    return _back(request)


@login_required
@require_POST
def task_skip(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    if manual_tasks.manual_task_skip(task=task, actor=request.user):
        messages.info(request, "Skipped: the sequence moves on to its next step.")
    else:
        messages.warning(request, GONE)
    return _back(request)


@login_required
@require_POST
def task_replied(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    text = request.POST.get("text", "")[:5000]
    if manual_tasks.manual_task_replied(task=task, actor=request.user, text=text):
        messages.success(request, "Reply recorded: the sequence is stopped.")
    else:
        messages.warning(request, GONE)
    return _back(request)
