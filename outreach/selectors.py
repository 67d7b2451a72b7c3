"""Reads for the inbox: who may see which conversation, the filtered list, support metrics."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, TypedDict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Greatest, RowNumber
from django.utils import timezone

from outreach.inbox import hooks
from outreach.models import Conversation, Message

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations  # the stubs' helper: not a runtime dependency

IN, OUT = Message.Direction.INBOUND, Message.Direction.OUTBOUND


def conversations_visible_to(user) -> QuerySet[Conversation]:
    """The one place that decides which conversations a user may see or act on.

    Delegates to outreach/access.py, the single source of row scoping for every interface:
    a rep sees conversations with contacts they own or assigned to them, a manager their
    team's, an admin all. Every inbox view goes through here.
    """
    from outreach.access import conversations_visible_to as scoped

    return scoped(user)


class InboxAnnotations(TypedDict):
    last_at: datetime
    unread: bool
    last_human_reply_at: datetime | None


class TimesAnnotations(InboxAnnotations):
    first_inbound_at: datetime | None
    first_human_reply_at: datetime | None
    first_responder: str | None
    resolved_on: datetime | None


def _annotated(
    qs: QuerySet[Conversation],
) -> "QuerySet[WithAnnotations[Conversation, InboxAnnotations]]":
    return qs.annotate(
        last_at=Greatest(
            Coalesce("last_inbound_at", "created_at"), Coalesce("last_outbound_at", "created_at")
        ),
        unread=Case(
            When(
                Q(last_inbound_at__isnull=False)
                & (Q(inbox__read_at__isnull=True) | Q(inbox__read_at__lt=F("last_inbound_at"))),
                then=Value(True),
            ),
            default=Value(False),
            output_field=BooleanField(),
        ),
        last_human_reply_at=Max(
            "messages__created_at", filter=Q(messages__direction=OUT, messages__human_written=True)
        ),
    )


@dataclass
class InboxQuery:
    status: str = "open"  # open | no_reply | snoozed | resolved | all
    unread: bool = False
    mine: bool = False
    unassigned: bool = False
    channel: str = ""
    intent: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # hooks.inbox_filters by name


def inbox_conversations(*, user, query: InboxQuery) -> QuerySet[Conversation]:
    """Visible conversations, newest activity first, filtered as the rep asked, one per
    contact."""
    now = timezone.now()
    qs = (
        _annotated(conversations_visible_to(user))
        .select_related("identity__contact", "sender", "assigned_to", "inbox")
        # The list shows the start of the latest message under the contact's name.
        .annotate(
            last_body=Subquery(
                Message.objects.filter(conversation=OuterRef("pk"))
                .order_by("-created_at", "-id")
                .values("body")[:1]
            )
        )
    )
    snoozed = Q(inbox__snoozed_until__gt=now)
    resolved = Q(inbox__resolved_at__isnull=False)
    # The dispatcher creates a conversation for every planned message, so after a campaign
    # most have never heard from the contact: "open" lists those where the contact wrote.
    wrote = Exists(Message.objects.filter(conversation=OuterRef("pk"), direction=IN))
    if query.status == "open":
        qs = qs.filter(wrote).exclude(snoozed).exclude(resolved)
    elif query.status == "no_reply":
        qs = qs.exclude(wrote)
    elif query.status == "snoozed":
        qs = qs.filter(snoozed)
    elif query.status == "resolved":
        qs = qs.filter(resolved)
    if query.unread:
        qs = qs.filter(unread=True)
    if query.mine:
        qs = qs.filter(assigned_to=user)
    if query.unassigned:
        qs = qs.filter(assigned_to=None)
    if query.channel:
        qs = qs.filter(sender__channel=query.channel)
    if query.intent:
        qs = qs.filter(inbox__intent=query.intent)
    for f in hooks.inbox_filters:
        value = query.extra.get(f.name)
        if value:
            qs = f.apply(qs, value)
    # One row per contact: their most recently active conversation among those that match,
    # which opens the contact's thread across every channel (outreach/inbox/views.py).
    latest_first = Window(
        RowNumber(),
        partition_by=[F("identity__contact_id")],
        order_by=[F("last_at").desc(), F("id").desc()],
    )
    return qs.annotate(contact_rank=latest_first).filter(contact_rank=1).order_by("-last_at", "-id")


def contact_channels(*, user, contact_ids) -> dict[int, list[str]]:
    """Contact id -> the channels of their conversations the user may see, for the list's
    channel icons."""
    found: dict[int, set[str]] = defaultdict(set)
    rows = conversations_visible_to(user).filter(identity__contact_id__in=contact_ids)
    for contact_id, channel in rows.values_list("identity__contact_id", "sender__channel"):
        found[contact_id].add(channel)
    return {k: sorted(v) for k, v in found.items()}


def sla_overdue(conversation: Conversation, now: datetime | None = None) -> bool:
    """Open, the contact spoke last, and nobody answered within INBOX_SLA_MINUTES."""
    now = now or timezone.now()
    state = getattr(conversation, "inbox", None)
    if state is not None and (
        state.resolved_at or (state.snoozed_until and state.snoozed_until > now)
    ):
        return False
    asked = conversation.last_inbound_at
    answered = getattr(conversation, "last_human_reply_at", None)
    if asked is None or (answered and answered >= asked):
        return False
    return now - asked > timedelta(minutes=settings.INBOX_SLA_MINUTES)


def conversation_thread(conversation: Conversation) -> QuerySet[Message]:
    return (
        conversation.messages.select_related("intent", "sender", "author")
        .prefetch_related("events")
        .order_by("created_at", "id")
    )


def contact_conversations(*, user, contact_id: int) -> QuerySet[Conversation]:
    """The contact's conversations on every channel that the user may see, the one where
    the contact last wrote first (the reply box's default channel), then the newest."""
    return (
        conversations_visible_to(user)
        .filter(identity__contact_id=contact_id)
        .select_related("sender", "identity")
        .order_by(F("last_inbound_at").desc(nulls_last=True), "-created_at", "-id")
    )


def contact_thread(*, user, contact_id: int) -> QuerySet[Message]:
    """One thread per contact: their messages on every channel the user may see, by time."""
    return (
        Message.objects.filter(
            conversation__in=contact_conversations(user=user, contact_id=contact_id)
            .order_by()
            .values("pk")
        )
        .select_related("intent", "sender", "author")
        .prefetch_related("events")
        .order_by("created_at", "id")
    )


def message_waiting(message: Message, now: datetime | None = None) -> str:
    """Why a queued message has not gone yet and when it may, in words for the thread:
    "waiting: sender daily cap reached (50/50), next slot Tue 00:00 Europe/Berlin"."""
    if message.status != Message.Status.QUEUED:
        return ""
    now = now or timezone.now()
    reason = message.hold_reason or "in the sender's queue, within its limits"
    if message.not_before is None or message.not_before <= now:
        return f"waiting: {reason}"
    # The sender's zone: its daily cap and gaps count in it.
    tz = ZoneInfo(message.sender.time_zone or settings.TIME_ZONE)
    local = message.not_before.astimezone(tz)
    when = local.strftime("%a %H:%M" if local - now < timedelta(days=6) else "%a %d %b %H:%M")
    slot = f"{when} {tz.key}"
    if slot in reason:  # "sending window opens Mon 09:00 Europe/Berlin" says it already
        return f"waiting: {reason}"
    return f"waiting: {reason}, next slot {slot}"


# --- support metrics ------------------------------------------------------------------------


@dataclass
class ResponseTimes:
    conversations: int = 0
    first_response: list[float] = field(default_factory=list)  # minutes
    resolution: list[float] = field(default_factory=list)  # minutes
    overdue: int = 0

    @staticmethod
    def _median(values: list[float]) -> float | None:
        return round(median(values), 1) if values else None

    @property
    def median_first_response(self) -> float | None:
        return self._median(self.first_response)

    @property
    def median_resolution(self) -> float | None:
        return self._median(self.resolution)


@dataclass
class SupportMetrics:
    overall: ResponseTimes
    by_rep: dict[str, ResponseTimes]
    by_channel: dict[str, ResponseTimes]


def conversation_times(
    qs: QuerySet[Conversation],
) -> "QuerySet[WithAnnotations[Conversation, TimesAnnotations]]":
    """Per conversation: first inbound, the first human answer and who wrote it, resolution."""
    first_reply = Message.objects.filter(
        conversation=OuterRef("pk"), direction=OUT, human_written=True
    ).order_by("created_at", "id")
    username = f"author__{get_user_model().USERNAME_FIELD}"
    return _annotated(qs).annotate(
        first_inbound_at=Min("messages__sent_at", filter=Q(messages__direction=IN)),
        first_human_reply_at=Min(
            "messages__created_at", filter=Q(messages__direction=OUT, messages__human_written=True)
        ),
        first_responder=Subquery(first_reply.values(username)[:1]),
        resolved_on=F("inbox__resolved_at"),
    )


def _minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds() / 60


def support_metrics(*, user) -> SupportMetrics:
    now = timezone.now()
    overall = ResponseTimes()
    by_rep: dict[str, ResponseTimes] = defaultdict(ResponseTimes)
    by_channel: dict[str, ResponseTimes] = defaultdict(ResponseTimes)
    rows = conversation_times(conversations_visible_to(user)).filter(first_inbound_at__isnull=False)
    for c in rows.select_related("assigned_to", "sender", "inbox"):
        if c.first_human_reply_at is not None:
            # Credit the rep who sent the first reply; replies sent before Message.author
            # was recorded have no known author.
            rep = c.first_responder or "unknown"
        else:
            # Nobody answered yet: it waits on whoever it is assigned to.
            rep = c.assigned_to.get_username() if c.assigned_to else "unassigned"
        first = _minutes(c.first_inbound_at, c.first_human_reply_at)
        resolution = _minutes(c.first_inbound_at, c.resolved_on)
        late = sla_overdue(c, now)
        for bucket in (overall, by_rep[rep], by_channel[c.sender.get_channel_display()]):
            bucket.conversations += 1
            if first is not None:
                bucket.first_response.append(first)
            if resolution is not None:
                bucket.resolution.append(resolution)
            bucket.overdue += late
    return SupportMetrics(overall, dict(by_rep), dict(by_channel))


def contacts_with_messages(contact_ids) -> dict[str, set[int]]:
    """For ContactsEvents.contact_activity (contacts/seams.py, implemented in campaigns):
    contacts whose conversations have messages, and those who replied (deleting a contact
    deletes both)."""
    messages = Message.objects.filter(conversation__identity__contact_id__in=contact_ids)
    who = "conversation__identity__contact_id"
    return {
        "have conversations with messages": set(
            messages.values_list(who, flat=True).distinct().order_by()
        ),
        "replied": set(
            messages.filter(direction=IN).values_list(who, flat=True).distinct().order_by()
        ),
    }


def latest_conversations(*, user, contact_ids) -> dict[int, int]:
    """Contact id -> id of the user's most recently active conversation with that contact,
    for links from other pages (the pipeline board) into the inbox."""
    latest: dict[int, int] = {}
    rows = (
        conversations_visible_to(user)
        .filter(identity__contact_id__in=contact_ids)
        .annotate(active=Greatest("last_inbound_at", "last_outbound_at"))
        .order_by(F("active").desc(nulls_last=True), "-id")
        .values_list("identity__contact_id", "id")
    )
    for contact_id, convo_id in rows:
        latest.setdefault(contact_id, convo_id)
    return latest
