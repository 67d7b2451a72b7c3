"""The inbox pages. Every view loads conversations through conversations_visible_to()."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from outreach import policy, selectors
from outreach.access import saved_replies_visible_to
from outreach.inbound_media import stored_attachment
from outreach.inbox import hooks, services
from outreach.inbox.forms import (
    AssignForm,
    InboxFilterForm,
    IntentForm,
    NoteForm,
    ReplyForm,
    SnoozeForm,
)
from outreach.inbox.models import MessageIntent
from outreach.inbox.targets import reply_targets, target_conversation
from outreach.models import Conversation
from outreach.views import stored_file_response

PAGE_SIZE = 50  # conversations per inbox page


def _conversation(request: HttpRequest, pk: int) -> Conversation:
    return get_object_or_404(
        selectors.conversations_visible_to(request.user).select_related(
            "identity__contact", "sender", "assigned_to"
        ),
        pk=pk,
    )


def _query(request: HttpRequest) -> tuple[InboxFilterForm, selectors.InboxQuery, list]:
    """The filter form, the query it makes, and the other apps' filters with their choices
    for this user; a value that is not among a filter's choices (another team's campaign) is
    ignored, so it tells nothing about rows the user cannot see."""
    form = InboxFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    extras = [(f, f.choices(request.user)) for f in hooks.inbox_filters]
    extra = {
        f.name: value
        for f, choices in extras
        if (value := request.GET.get(f.name, "")) in {v for v, _ in choices}
    }
    query = selectors.InboxQuery(
        status=data.get("status") or "open",
        unread=bool(data.get("unread")),
        mine=bool(data.get("mine")),
        unassigned=bool(data.get("unassigned")),
        channel=data.get("channel") or "",
        intent=data.get("intent") or "",
        extra={k: v for k, v in extra.items() if v},
    )
    return form, query, [(f, choices, extra.get(f.name, "")) for f, choices in extras]


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    form, query, extra_filters = _query(request)
    pages = Paginator(selectors.inbox_conversations(user=request.user, query=query), PAGE_SIZE)
    page = pages.get_page(request.GET.get("page"))
    now = timezone.now()
    channels = selectors.contact_channels(
        user=request.user, contact_ids=[c.identity.contact_id for c in page]
    )
    for c in page:
        c.overdue = selectors.sla_overdue(c, now)  # type: ignore[attr-defined]  # for the template
        c.channels = channels.get(c.identity.contact_id, [])  # type: ignore[attr-defined]
    context = {
        "form": form,
        "page": page,
        "page_links": pages.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "extra_filters": extra_filters,
    }
    template = "outreach/inbox/_list.html" if request.headers.get("HX-Request") else None
    return render(request, template or "outreach/inbox/inbox.html", context)


def _window(conversation: Conversation) -> str:
    """What the platform's rules allow right now, shown above the reply box."""
    channel, now, last = conversation.sender.channel, timezone.now(), conversation.last_inbound_at
    if channel in ("instagram", "messenger"):
        if policy.window_open(last, now, policy.STANDARD_WINDOW):
            return "Inside Meta's 24 h window."
        if policy.window_open(last, now, policy.HUMAN_AGENT_WINDOW):
            return "Outside 24 h: your reply goes with the HUMAN_AGENT tag (7 days)."
        return "Meta's window is closed: the reply waits until the contact writes again."
    if channel == "whatsapp" and not policy.window_open(last, now, policy.STANDARD_WINDOW):
        return "Outside WhatsApp's 24 h window: only an approved template may be sent."
    return ""


def _thread(request: HttpRequest, conversation: Conversation) -> list:
    """The contact's messages on every channel the user may see, each with the labels other
    apps add (`m.labels`)."""
    contact_id = conversation.identity.contact_id
    thread = list(selectors.contact_thread(user=request.user, contact_id=contact_id))
    found = [labels(thread) for labels in hooks.message_labels]
    now = timezone.now()
    for m in thread:
        m.labels = [f[m.id] for f in found if m.id in f]  # type: ignore[attr-defined]  # template
        m.waiting = selectors.message_waiting(m, now)  # type: ignore[attr-defined]  # template
        m.scheduled = (  # type: ignore[attr-defined]  # template: "scheduled for …", cancel
            m.status == "queued"
            and m.hold_reason == services.SCHEDULED
            and m.not_before
            and m.not_before > now
        )
        m.reaction = _reaction(m.reactions)  # type: ignore[attr-defined]  # template
        story = (m.payload or {}).get("story") or {}
        m.story_url = _web_link(story.get("url"))  # type: ignore[attr-defined]  # template
    return thread


def _reaction(reactions: list[dict]) -> str:
    """The contact's reaction as it stands: the latest one, unless they took it back (Meta
    allows one per message; Telegram sends the whole new set each time)."""
    latest = reactions[-1] if reactions else {}
    return "" if latest.get("action") == "unreact" else str(latest.get("emoji") or "")


def _web_link(url: object) -> str:
    """A platform's URL, shown as a link only if it is a web address."""
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else ""


def _reply_form(request: HttpRequest, conversation: Conversation, data=None) -> ReplyForm:
    targets = reply_targets(user=request.user, contact_id=conversation.identity.contact_id)
    initial = {"to": targets[0].key if targets else ""}
    # Its own ids: the note form on the same page has a "body" field too.
    return ReplyForm(data, targets=targets, initial=initial, auto_id="id_reply_%s")


def _detail_context(request: HttpRequest, conversation: Conversation, **forms) -> dict:
    contact = conversation.identity.contact
    sections = [s for s in (make(contact) for make in hooks.contact_card_sections) if s]
    reply_form = forms.get("reply_form") or _reply_form(request, conversation)
    return {
        "conversation": conversation,
        "contact": contact,
        "identities": contact.identities.all(),
        "card_sections": sections,
        "thread": _thread(request, conversation),
        "channels": sorted(
            {s.get_channel_display() for s in _contact_senders(request, conversation)}
        ),
        "saved_replies": saved_replies_visible_to(request.user).order_by("name"),
        "notes": conversation.notes.select_related("author"),
        "state": services.conversation_state(conversation),
        "window": _window(conversation),
        "reply_form": reply_form,
        "note_form": forms.get("note_form") or NoteForm(),
        "assign_form": forms.get("assign_form")
        or AssignForm(initial={"user": conversation.assigned_to_id}, by=request.user),
        "snooze_form": SnoozeForm(),
        "intent_choices": MessageIntent.Label.choices,
    }


def _contact_senders(request: HttpRequest, conversation: Conversation) -> list:
    contact_id = conversation.identity.contact_id
    return [
        c.sender for c in selectors.contact_conversations(user=request.user, contact_id=contact_id)
    ]


def _mark_read(request: HttpRequest, conversation: Conversation) -> None:
    """The rep has the contact's whole thread in front of them: every channel of it is read."""
    contact_id = conversation.identity.contact_id
    for c in selectors.contact_conversations(user=request.user, contact_id=contact_id):
        services.conversation_mark_read(conversation=c)


@login_required
def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    convo = _conversation(request, pk)
    _mark_read(request, convo)
    return render(request, "outreach/inbox/conversation.html", _detail_context(request, convo))


@login_required
def thread(request: HttpRequest, pk: int) -> HttpResponse:
    """The message list alone, polled by htmx so new messages and receipts appear."""
    convo = _conversation(request, pk)
    _mark_read(request, convo)
    context = {"thread": _thread(request, convo), "conversation": convo}
    context["intent_choices"] = MessageIntent.Label.choices
    return render(request, "outreach/inbox/_thread.html", context)


@login_required
@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    convo = _conversation(request, pk)
    form = _reply_form(request, convo, request.POST)
    if not form.is_valid():
        context = _detail_context(request, convo, reply_form=form)
        return render(request, "outreach/inbox/conversation.html", context, status=400)
    to = form.cleaned_data.get("to")
    target = target_conversation(form.targets[to]) if to else convo
    send_at = form.cleaned_data.get("send_at")
    services.conversation_reply(
        conversation=target, author=request.user, body=form.cleaned_data["body"], send_at=send_at
    )
    if send_at:
        messages.success(request, f"Reply scheduled for {send_at:%a %d %b %H:%M} {send_at.tzinfo}.")
    else:
        messages.success(request, "Reply queued; it goes out within the sender's limits.")
    return redirect("inbox:conversation", pk=target.pk)


@login_required
@require_POST
def cancel_scheduled(request: HttpRequest, pk: int, message_id: int) -> HttpResponse:
    convo = _conversation(request, pk)
    message = get_object_or_404(convo.messages, pk=message_id, human_written=True)
    if services.scheduled_reply_cancel(message=message, by=request.user):
        messages.success(request, "Scheduled reply cancelled; it will not be sent.")
    else:
        messages.error(request, "Too late to cancel: the reply is no longer waiting.")
    return redirect("inbox:conversation", pk=convo.pk)


@login_required
@require_POST
def note(request: HttpRequest, pk: int) -> HttpResponse:
    convo = _conversation(request, pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, convo, note_form=form)
        return render(request, "outreach/inbox/conversation.html", context, status=400)
    services.conversation_note_add(
        conversation=convo, author=request.user, body=form.cleaned_data["body"]
    )
    return redirect("inbox:conversation", pk=convo.pk)


@login_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    convo = _conversation(request, pk)
    form = AssignForm(request.POST, by=request.user)
    if not form.is_valid():
        context = _detail_context(request, convo, assign_form=form)
        return render(request, "outreach/inbox/conversation.html", context, status=400)
    services.conversation_assign(
        conversation=convo, user=form.cleaned_data["user"], by=request.user
    )
    return redirect("inbox:conversation", pk=convo.pk)


@login_required
@require_POST
def snooze(request: HttpRequest, pk: int) -> HttpResponse:
    convo = _conversation(request, pk)
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick how long to snooze.")
        return redirect("inbox:conversation", pk=convo.pk)
    hours = form.cleaned_data["hours"]
    until = timezone.now() + timedelta(hours=hours) if hours else None
    services.conversation_snooze(conversation=convo, until=until)
    return redirect("inbox:list")


@login_required
@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    convo = _conversation(request, pk)
    services.conversation_resolve(conversation=convo, resolved=request.POST.get("reopen") != "1")
    return redirect("inbox:conversation", pk=convo.pk)


@login_required
@require_POST
def intent_correct(request: HttpRequest, pk: int, message_id: int) -> HttpResponse:
    convo = _conversation(request, pk)
    intent = get_object_or_404(MessageIntent, message_id=message_id, message__conversation=convo)
    form = IntentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown intent.")
        return redirect("inbox:conversation", pk=convo.pk)
    label = form.cleaned_data["label"]
    consequences = services.intent_consequences(intent=intent, label=label)
    confirmed = request.POST.get("confirm") == "1"
    if consequences and not confirmed:
        # The dropdown submits on change; a label that opts out or closes a deal waits here.
        context = {
            "conversation": convo,
            "message": intent.message,
            "label": label,
            "label_display": MessageIntent.Label(label).label,
            "consequences": consequences,
        }
        return render(request, "outreach/inbox/intent_confirm.html", context)
    services.intent_correct(intent=intent, label=label, by=request.user, confirmed=confirmed)
    return redirect("inbox:conversation", pk=convo.pk)


@login_required
def metrics(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "outreach/inbox/metrics.html",
        {"metrics": selectors.support_metrics(user=request.user)},
    )


@login_required
@require_http_methods(["GET", "HEAD"])
def media(request: HttpRequest, pk: int, message_id: int, index: int) -> HttpResponseBase:
    """The stored copy of an attachment a contact sent, for users who may see the
    conversation (anyone else: 404, as for the conversation itself)."""
    convo = _conversation(request, pk)
    message = get_object_or_404(convo.messages, pk=message_id)
    entry = stored_attachment(message, index)
    if entry is None:
        raise Http404("No stored copy of this attachment.")
    try:
        handle = default_storage.open(entry["stored"], "rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    return stored_file_response(handle, str(entry.get("content_type", "")), entry["stored"])
