"""Exact dashboard counters (campaigns/stats_models.py).

Each function here is called inside the transaction that changes what it counts, with the
rows that changed, and bumps the counters with one upsert per (campaign, day, step, variant)
group: ``INSERT … ON CONFLICT DO UPDATE SET n = n + EXCLUDED.n`` (PostgreSQL and SQLite).
So the counters are never behind, and a rolled-back change rolls its counts back with it.

``counters_rebuild`` recomputes everything from the live tables with the same definitions
(analytics/__init__.py documents them); the tests check that the two always agree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf, TruncDate
from django.utils import timezone

from campaigns.models import (
    CampaignDayStats,
    CampaignIntentStats,
    CampaignStats,
    Enrollment,
    StepSend,
)
from outreach.models import Message

M = Message.Status
E = Enrollment.State
FIELDS = (
    "enrolled",
    "contacted",
    "reached",
    "sent",
    "delivered",
    "bounced",
    "replied",
    "positive",
    "opted_out",
)
POSITIVE_INTENTS = ("interested", "positive", "meeting")
DELIVERED = (M.DELIVERED, M.READ)
ID = BigIntegerField()
# A reply counts on its day; a "replied" row written without replied_at, on its enrolment day.
REPLY_DAY = Coalesce(TruncDate("replied_at"), TruncDate("created_at"))

Key = tuple[int, date, int, int]  # campaign id, day, step id (0: none), variant id (0: none)


# --- definitions shared with the live selectors ----------------------------------------------


def intent_model():
    """outreach's reply-intent labels (MessageIntent), if this installation has them."""
    try:
        return apps.get_model("outreach", "MessageIntent")
    except LookupError:
        return None


def positive_labels():
    """Labels that make a reply positive (a rep's correction wins); None without labels."""
    model = intent_model()
    if model is None:
        return None
    return model.objects.filter(
        Q(corrected_label__in=POSITIVE_INTENTS) | Q(corrected_label="", label__in=POSITIVE_INTENTS)
    )


def interested(contact: str = "contact_id", since: str = "created_at") -> Q | None:
    """An enrollment whose contact sent a reply labelled interested after enrolling, as a
    filter. None without intent labels.

    The contact is first checked against the (small) set of contacts with such a reply, which
    PostgreSQL hashes once; only those rows pay for the correlated date check."""
    labels = positive_labels()
    if labels is None:
        return None
    contacts = labels.values("message__conversation__identity__contact_id")
    after_enrolling = Exists(
        labels.filter(
            message__conversation__identity__contact_id=OuterRef(contact),
            message__created_at__gte=OuterRef(since),
        )
    )
    return Q(**{f"{contact}__in": contacts}) & Q(after_enrolling)


def effective_label():
    return Coalesce(NullIf("corrected_label", Value("")), "label")


# --- writing ---------------------------------------------------------------------------------


def _upsert_sql(table: str, key: list[str]) -> str:
    sets = ", ".join(f"{f} = {table}.{f} + EXCLUDED.{f}" for f in FIELDS)
    return (
        f"INSERT INTO {table} ({', '.join(key)}, {', '.join(FIELDS)}) "
        f"VALUES ({', '.join(['%s'] * (len(key) + len(FIELDS)))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
    )


def counters_add(deltas: dict[Key, Counter]) -> None:
    """Add the deltas, one upsert per key and one per campaign for its totals, keys in a
    fixed order (no deadlocks between two transactions bumping the same rows)."""
    rows = sorted((k, c) for k, c in deltas.items() if any(c.values()))
    if not rows:
        return
    totals: dict[int, Counter] = defaultdict(Counter)
    for (cid, *_), c in rows:
        totals[cid].update(c)
    adapt = connection.ops.adapt_datefield_value
    # No savepoint: inside a send's transaction a failure here fails the whole send anyway.
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        cur.executemany(
            _upsert_sql(CampaignDayStats._meta.db_table, ["campaign_id", "day", "step", "variant"]),
            [
                (cid, adapt(day), step, variant, *(c.get(f, 0) for f in FIELDS))
                for (cid, day, step, variant), c in rows
            ],
        )
        cur.executemany(
            _upsert_sql(CampaignStats._meta.db_table, ["campaign_id"]),
            [(cid, *(c.get(f, 0) for f in FIELDS)) for cid, c in sorted(totals.items())],
        )


def intents_add(deltas: dict[tuple[int, str], int]) -> None:
    rows = sorted((k, n) for k, n in deltas.items() if n)
    if not rows:
        return
    table = CampaignIntentStats._meta.db_table
    sql = (
        f"INSERT INTO {table} (campaign_id, intent, n) VALUES (%s, %s, %s) "
        f"ON CONFLICT (campaign_id, intent) DO UPDATE SET n = {table}.n + EXCLUDED.n"
    )
    # No savepoint, as counters_add: a failure here fails the reply's whole transaction anyway.
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        cur.executemany(sql, [(cid, intent, n) for (cid, intent), n in rows])


def _deltas() -> defaultdict[Key, Counter]:
    return defaultdict(Counter)


def _day(at: datetime) -> date:
    return timezone.localdate(at)


def _last_sent(enrollment_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """(step id, variant id) of the last step sent to each enrollment: where its reply,
    positive reply and opt-out are counted. Enrollments without a sent step are missing."""
    best: dict[int, tuple[int, int, int]] = {}
    for eid, position, step_id, variant_id in StepSend.objects.filter(
        enrollment_id__in=list(enrollment_ids), message__sent_at__isnull=False
    ).values_list("enrollment_id", "step__position", "step_id", "variant_id"):
        if eid not in best or position > best[eid][0]:
            best[eid] = (position, step_id, variant_id or 0)
    return {eid: (s, v) for eid, (_, s, v) in best.items()}


# --- events ----------------------------------------------------------------------------------


def counters_after_enrol(*, campaign_id: int, contact_ids: list[int]) -> None:
    """These contacts were just enrolled (new rows only)."""
    if not contact_ids:
        return
    deltas = _deltas()
    for day, n in (
        Enrollment.objects.filter(campaign_id=campaign_id, contact_id__in=contact_ids)
        .values(day=TruncDate("created_at"))
        .annotate(n=Count("id"))
        .order_by()
        .values_list("day", "n")
    ):
        deltas[(campaign_id, day, 0, 0)]["enrolled"] += n
    counters_add(deltas)


def counters_after_send(*, links: list[StepSend], sent_at: dict[int, datetime]) -> None:
    """Campaign messages were sent (sent_at by message id): count each, count its enrollment
    as contacted if it is the first, and move the enrollment's reply/positive/opt-out to it
    if it is now the last step sent (a send that was in flight when the reply arrived).

    ``links`` come with their steps and their enrollments' contacts, as they were before the
    enrollments moved on, in the order they were sent."""
    batch = {link.id for link in links}
    earlier: dict[int, list[tuple[int, int, int, int | None]]] = defaultdict(list)
    for row in StepSend.objects.filter(
        enrollment_id__in={link.enrollment_id for link in links}, message__sent_at__isnull=False
    ).values_list("enrollment_id", "id", "step__position", "step_id", "variant_id"):
        earlier[row[0]].append(row[1:])
    deltas = _deltas()
    counted: set[int] = set()
    for link in links:
        enrollment = link.enrollment
        cid = enrollment.campaign_id
        # What was sent before this one: the batch's later sends were not yet, one by one.
        others = [
            (position, step_id, variant_id)
            for sid, position, step_id, variant_id in earlier[enrollment.id]
            if sid != link.id and (sid not in batch or sid in counted)
        ]
        counted.add(link.id)
        this = (link.step_id, link.variant_id or 0)
        deltas[(cid, _day(sent_at[link.message_id]), *this)]["sent"] += 1
        if not others:
            deltas[(cid, _day(enrollment.created_at), 0, 0)]["contacted"] += 1
        previous = max(others, default=None)
        if previous is None or previous[0] < link.step.position:
            before = (previous[1], previous[2] or 0) if previous else (0, 0)
            _move(deltas, cid, _enrollment_flags(enrollment), before, this)
    counters_add(deltas)


def _enrollment_flags(enrollment: Enrollment) -> dict:
    """What of an enrollment sits on its last step sent: replied, positive, opted out."""
    flags: dict[str, Any] = {
        "created_at": enrollment.created_at,
        "state": enrollment.state,
        "replied_to_id": enrollment.replied_to_id,
        "replied_at": enrollment.replied_at,
        "contact__opted_out_at": enrollment.contact.opted_out_at,
        "positive": False,
    }
    labels = positive_labels()
    if labels is not None and (enrollment.state != E.WAITING or enrollment.replied_at):
        # A positive label is on a reply, and a reply moved the enrollment out of waiting
        # (replied, or paused for an out-of-office) or recorded it (going on for its
        # "Always" steps); the common send skips this query.
        flags["positive"] = labels.filter(
            message__conversation__identity__contact_id=enrollment.contact_id,
            message__created_at__gte=enrollment.created_at,
        ).exists()
    return flags


def _move(deltas, cid: int, flags: dict, before: tuple[int, int], after: tuple[int, int]):
    created = _day(flags["created_at"])
    replied = flags["state"] == E.REPLIED or flags["replied_at"] is not None
    if replied and flags.get("replied_to_id") is None:  # else it stays
        day = _day(flags["replied_at"] or flags["created_at"])
        deltas[(cid, day, *before)]["replied"] -= 1
        deltas[(cid, day, *after)]["replied"] += 1
    for name, on in (
        ("positive", flags["positive"]),
        ("opted_out", flags["contact__opted_out_at"] is not None),
    ):
        if on:
            deltas[(cid, created, *before)][name] -= 1
            deltas[(cid, created, *after)][name] += 1


def counters_after_delivery(*, message_ids: list[int]) -> None:
    """These messages just went from sent to delivered or read."""
    links = list(
        StepSend.objects.filter(message_id__in=message_ids).values(
            "enrollment_id",
            "step_id",
            "variant_id",
            "message__sent_at",
            "enrollment__created_at",
            campaign_id=F("enrollment__campaign_id"),
        )
    )
    if not links:
        return
    eids = {r["enrollment_id"] for r in links}
    already = set(
        StepSend.objects.filter(enrollment_id__in=eids, message__status__in=DELIVERED)
        .exclude(message_id__in=message_ids)
        .values_list("enrollment_id", flat=True)
    )
    deltas = _deltas()
    for r in links:
        cid = r["campaign_id"]
        day = _day(r["message__sent_at"] or r["enrollment__created_at"])
        deltas[(cid, day, r["step_id"], r["variant_id"] or 0)]["delivered"] += 1
        if r["enrollment_id"] not in already:
            already.add(r["enrollment_id"])
            deltas[(cid, _day(r["enrollment__created_at"]), 0, 0)]["reached"] += 1
    counters_add(deltas)


def counters_after_unsend(*, link: StepSend, sent_at: datetime, previous: str) -> None:
    """A sent step message goes back to the queue to be sent again (a soft bounce): undo what
    counters_after_send (and counters_after_delivery) counted for it; the next send counts
    anew. The message no longer has its sent_at when this runs."""
    enrollment = link.enrollment
    cid = enrollment.campaign_id
    this = (link.step_id, link.variant_id or 0)
    deltas = _deltas()
    deltas[(cid, _day(sent_at), *this)]["sent"] -= 1
    sent = StepSend.objects.filter(enrollment_id=enrollment.id, message__sent_at__isnull=False)
    others = [
        (position, step_id, variant_id or 0)
        for position, step_id, variant_id in sent.exclude(id=link.id).values_list(
            "step__position", "step_id", "variant_id"
        )
    ]
    if not others:
        deltas[(cid, _day(enrollment.created_at), 0, 0)]["contacted"] -= 1
    previous_step = max(others, default=None)
    if previous_step is None or previous_step[0] < link.step.position:
        before = previous_step[1:] if previous_step else (0, 0)
        _move(deltas, cid, _enrollment_flags(enrollment), this, before)
    if previous in DELIVERED:
        deltas[(cid, _day(sent_at), *this)]["delivered"] -= 1
        if not sent.filter(message__status__in=DELIVERED).exclude(id=link.id).exists():
            deltas[(cid, _day(enrollment.created_at), 0, 0)]["reached"] -= 1
    counters_add(deltas)


def counters_after_failure(*, message_id: int, previous: str | None) -> None:
    """A sent message failed (a bounce, a late platform failure); ``previous`` is the status
    it had (delivered or read ones stop counting as delivered)."""
    link = (
        StepSend.objects.filter(message_id=message_id)
        .values(
            "enrollment_id",
            "step_id",
            "variant_id",
            "message__sent_at",
            "message__error_code",
            "enrollment__created_at",
            campaign_id=F("enrollment__campaign_id"),
        )
        .first()
    )
    if link is None or link["message__sent_at"] is None:
        return
    cid = link["campaign_id"]
    key = (cid, _day(link["message__sent_at"]), link["step_id"], link["variant_id"] or 0)
    deltas = _deltas()
    if link["message__error_code"].startswith("bounce"):
        deltas[key]["bounced"] += 1
    if previous in DELIVERED:
        deltas[key]["delivered"] -= 1
        still = (
            StepSend.objects.filter(
                enrollment_id=link["enrollment_id"], message__status__in=DELIVERED
            )
            .exclude(message_id=message_id)
            .exists()
        )
        if not still:
            deltas[(cid, _day(link["enrollment__created_at"]), 0, 0)]["reached"] -= 1
    counters_add(deltas)


@dataclass(frozen=True)
class Replied:
    """Enrollments a reply just made "replied" (campaigns.services.enrollments_replied), to be
    counted with the reply's label (counters_after_label)."""

    at: datetime  # their replied_at: the day the reply counts on
    campaigns: dict[int, int]  # enrollment id: campaign id
    # Enrollment id: (step id, variant id) of the step send it replied to (replied_to), where
    # it has one; the others count on their last step sent.
    counted_on: dict[int, tuple[int, int]]


def counters_after_reply(*, enrollment_ids: list[int], sign: int = 1) -> None:
    """These enrollments just became "replied" (their replied_at is set), or (sign -1) left
    that state (an answered question resumed the sequence)."""
    # Counted on the step send its reply quoted (replied_to, read with the rest of the row:
    # a step send always has a step), else on the last step sent.
    last = _last_sent(enrollment_ids)
    deltas = _deltas()
    for eid, cid, day, quoted_step, quoted_variant in Enrollment.objects.filter(
        id__in=enrollment_ids
    ).values_list("id", "campaign_id", REPLY_DAY, "replied_to__step_id", "replied_to__variant_id"):
        if quoted_step is not None:
            where = (quoted_step, quoted_variant or 0)
        else:
            where = last.get(eid, (0, 0))
        deltas[(cid, day, *where)]["replied"] += sign
    counters_add(deltas)


def _count_replied(deltas: defaultdict[Key, Counter], replied: Replied, last: dict) -> None:
    """As counters_after_reply, from what the reply knows of them (``last``: _last_sent)."""
    day = _day(replied.at)
    for eid, cid in replied.campaigns.items():
        where = replied.counted_on.get(eid) or last.get(eid, (0, 0))
        deltas[(cid, day, *where)]["replied"] += 1


def counters_after_opt_out(*, contact_ids: list[int], sign: int) -> None:
    """These contacts were opted out everywhere (sign 1) or reinstated (sign -1)."""
    rows = list(
        Enrollment.objects.filter(contact_id__in=contact_ids).values_list(
            "id", "campaign_id", "created_at"
        )
    )
    last = _last_sent(eid for eid, _, _ in rows)
    deltas = _deltas()
    for eid, cid, created in rows:
        deltas[(cid, _day(created), *last.get(eid, (0, 0)))]["opted_out"] += sign
    counters_add(deltas)


def counters_after_label(
    *, message: Message, label: str, previous: str = "", replied: Replied | None = None
) -> None:
    """A reply was labelled ``label`` (before: ``previous``, "" if it had no label). Counts
    every enrollment of its contact created before the reply: the label breakdown, and
    "positive" when this label decides it (no other positive reply since enrolling).

    ``replied``: the enrollments the reply itself made "replied" (services.reply_record),
    counted here with its label: one read of the steps sent for both, one upsert per counter
    row. They stay locked until the reply commits, so this read finds the steps sent that one
    right after the stop would have found, or a send in flight recorded meanwhile (which does
    not lock a paused enrollment), where counters_after_send expects the reply to be."""
    decided, sign = _label_count(message=message, label=label, previous=previous)
    uncounted = [e for e in replied.campaigns if e not in replied.counted_on] if replied else []
    last = _last_sent({*uncounted, *(eid for eid, _, _ in decided)})
    deltas = _deltas()
    if replied is not None:
        _count_replied(deltas, replied, last)
    for eid, cid, created in decided:
        deltas[(cid, _day(created), *last.get(eid, (0, 0)))]["positive"] += sign
    counters_add(deltas)


def _label_count(
    *, message: Message, label: str, previous: str
) -> tuple[list[tuple[int, int, datetime]], int]:
    """Count the label breakdown; return the enrollments (id, campaign id, created_at) whose
    "positive" this label decides, and +1 or -1 for them."""
    if label == previous:
        return [], 0
    contact_id = message.conversation.identity.contact_id
    rows = list(
        Enrollment.objects.filter(
            contact_id=contact_id, created_at__lte=message.created_at
        ).values_list("id", "campaign_id", "created_at")
    )
    if not rows:
        return [], 0
    intents: dict[tuple[int, str], int] = Counter()
    for _, cid, _ in rows:
        intents[(cid, label)] += 1
        if previous:
            intents[(cid, previous)] -= 1
    intents_add(intents)
    sign = (label in POSITIVE_INTENTS) - (previous in POSITIVE_INTENTS)
    labels = positive_labels()
    if not sign or labels is None:
        return [], 0
    # The contact's latest other positive reply: one read, not one per enrollment.
    latest = (
        labels.filter(message__conversation__identity__contact_id=contact_id)
        .exclude(message_id=message.id)
        .aggregate(at=Max("message__created_at"))["at"]
    )
    return [row for row in rows if latest is None or latest < row[2]], sign


# --- rebuilding ------------------------------------------------------------------------------


def counters_rebuild() -> int:
    """Recompute every counter from the live tables; returns how many counter rows."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Writers bump counters before they commit: they wait for the rebuild, then add
            # their change on top of figures that did not include it.
            with connection.cursor() as cur:
                for model in (CampaignDayStats, CampaignStats, CampaignIntentStats):
                    cur.execute(f"LOCK TABLE {model._meta.db_table} IN EXCLUSIVE MODE")
        CampaignDayStats.objects.all().delete()
        CampaignStats.objects.all().delete()
        CampaignIntentStats.objects.all().delete()
        deltas = live_day_stats()
        CampaignDayStats.objects.bulk_create(
            [
                CampaignDayStats(
                    campaign_id=cid, day=day, step=step, variant=variant, **dict(counts)
                )
                for (cid, day, step, variant), counts in sorted(deltas.items())
                if any(counts.values())
            ],
            batch_size=2000,
        )
        totals: dict[int, Counter] = defaultdict(Counter)
        for (cid, *_), counts in deltas.items():
            totals[cid].update(counts)
        CampaignStats.objects.bulk_create(
            [CampaignStats(campaign_id=cid, **dict(c)) for cid, c in sorted(totals.items())],
            batch_size=2000,
        )
        intents = _live_intents()
        CampaignIntentStats.objects.bulk_create(
            [CampaignIntentStats(campaign_id=c, intent=i, n=n) for (c, i), n in intents.items()],
            batch_size=2000,
        )
    return len(deltas) + len(intents)


def counters_before_delete(*, enrollment_ids: list[int]) -> None:
    """These enrollments are about to be deleted (with their messages, often: a contact's
    deletion cascades): take away everything they count for."""
    deltas = live_day_stats(enrollment_ids)
    counters_add({k: Counter({f: -n for f, n in c.items()}) for k, c in deltas.items()})
    intents_add({k: -n for k, n in _live_intents(enrollment_ids).items()})


def live_day_stats(only: list[int] | None = None) -> defaultdict[Key, Counter]:
    """Every counter from the live rows (of these enrollments only, if given)."""
    enrollments, links = Enrollment.objects.all(), StepSend.objects.all()
    if only is not None:
        enrollments, links = enrollments.filter(id__in=only), links.filter(enrollment_id__in=only)
    deltas = _deltas()
    for r in (
        enrollments.values("campaign_id", day=TruncDate("created_at"))
        .annotate(n=Count("id"))
        .order_by()
    ):
        deltas[(r["campaign_id"], r["day"], 0, 0)]["enrolled"] = r["n"]
    # Contacted and reached in one pass over the step links (not a probe per enrollment).
    for reach in (
        links.values(cid=F("enrollment__campaign_id"), day=TruncDate("enrollment__created_at"))
        .annotate(
            contacted=Count(
                "enrollment_id", distinct=True, filter=Q(message__sent_at__isnull=False)
            ),
            reached=Count("enrollment_id", distinct=True, filter=Q(message__status__in=DELIVERED)),
        )
        .order_by()
    ):
        deltas[(reach["cid"], reach["day"], 0, 0)].update(
            contacted=reach["contacted"], reached=reach["reached"]
        )
    for sends in (
        links.filter(message__sent_at__isnull=False)
        .values(
            "step_id",
            "variant_id",
            cid=F("enrollment__campaign_id"),
            day=TruncDate("message__sent_at"),
        )
        .annotate(
            sent=Count("id"),
            delivered=Count("id", filter=Q(message__status__in=DELIVERED)),
            bounced=Count(
                "id", filter=Q(message__status=M.FAILED, message__error_code__startswith="bounce")
            ),
        )
        .order_by()
    ):
        deltas[(sends["cid"], sends["day"], sends["step_id"], sends["variant_id"] or 0)].update(
            sent=sends["sent"], delivered=sends["delivered"], bounced=sends["bounced"]
        )
    # Positive replies and opt-outs sit on the last step sent; a reply on the step send it
    # quoted (replied_to), else there too.
    last = StepSend.objects.filter(
        enrollment_id=OuterRef("id"), message__sent_at__isnull=False
    ).order_by("-step__position")
    # Replied: also one going on for its "Always" steps, or stopped later (replied_at kept).
    replied = Q(state=E.REPLIED) | Q(replied_at__isnull=False)
    flagged = replied | Q(contact__opted_out_at__isnull=False)
    positive = interested()
    if positive is not None:
        flagged |= positive
    attributed = enrollments.filter(flagged).annotate(
        last_step=Coalesce(Subquery(last.values("step_id")[:1]), 0, output_field=ID),
        last_variant=Coalesce(Subquery(last.values("variant_id")[:1]), 0, output_field=ID),
    )
    common = ["campaign_id", "last_step", "last_variant"]
    quoted = Q(replied_to__isnull=False)
    for r in (
        attributed.filter(replied)
        .annotate(
            reply_step=Case(When(quoted, then=F("replied_to__step_id")), default=F("last_step")),
            reply_variant=Case(
                When(quoted, then=Coalesce("replied_to__variant_id", 0, output_field=ID)),
                default=F("last_variant"),
            ),
        )
        .values("campaign_id", "reply_step", "reply_variant", day=REPLY_DAY)
        .annotate(n=Count("id"))
        .order_by()
    ):
        key = (r["campaign_id"], r["day"], r["reply_step"], r["reply_variant"])
        deltas[key]["replied"] += r["n"]
    agg = {"opted_out": Count("id", filter=Q(contact__opted_out_at__isnull=False))}
    if positive is not None:
        agg["positive"] = Count("id", filter=positive)
    for r in attributed.values(*common, day=TruncDate("created_at")).annotate(**agg).order_by():
        key = (r["campaign_id"], r["day"], r["last_step"], r["last_variant"])
        deltas[key]["opted_out"] += r["opted_out"]
        deltas[key]["positive"] += r.get("positive", 0)
    return deltas


def _live_intents(only: list[int] | None = None) -> dict[tuple[int, str], int]:
    model = intent_model()
    if model is None:
        return {}
    enrollments = "message__conversation__identity__contact__enrollments"
    # One filter() call: both conditions on the same enrollment (one join, not two).
    conditions: dict[str, F | list[int]] = {
        "message__created_at__gte": F(f"{enrollments}__created_at")
    }
    if only is not None:
        conditions[f"{enrollments}__in"] = only
    return {
        (r["cid"], r["intent"]): r["n"]
        for r in model.objects.filter(**conditions)
        .annotate(intent=effective_label())
        .values("intent", cid=F(f"{enrollments}__campaign_id"))
        .annotate(n=Count("id"))
        .order_by()
    }
