"""Sending windows in the contact's time zone: property-based checks over every IANA zone and
instants around real DST changes, plus the named cases users ask about.

Two oracles: the engine's own `contains` (self-consistency, valid everywhere) and a plain
wall-clock reading ("is the contact's clock inside start-end on an allowed day?"), valid
wherever the window's edges are ordinary local times (not skipped or repeated by a DST change).
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from outreach.windows import Window, describe_wait

ALL_ZONES = sorted(z for z in available_timezones() if "/" in z or z == "UTC")
DST_ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # changes at midnight
    "Europe/London",
    "Asia/Tehran",
    "Pacific/Chatham",
    "America/Havana",  # changes at midnight
]
MIN_INSTANT = datetime(1990, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(2037, 12, 31, tzinfo=UTC)
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def transitions(zone: str, first_year: int = 2018, last_year: int = 2030) -> tuple[datetime, ...]:
    """Every instant the zone's UTC offset changed, to the second, found by bisection."""
    tz = ZoneInfo(zone)
    found = []
    t = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=12)
    while t < end:
        nxt = t + step
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            lo, hi = t, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(microsecond=0))
        t = nxt
    return tuple(found)


def clock_time(minutes: int) -> time:
    return time((minutes // 60) % 24, minutes % 60)


QUARTER, MINUTE = 15, 1
weekday_sets = st.sets(st.sampled_from("0123456"), min_size=1).map(lambda s: "".join(sorted(s)))
instants = st.datetimes(
    min_value=MIN_INSTANT.replace(tzinfo=None), max_value=MAX_INSTANT.replace(tzinfo=None)
).map(lambda d: d.replace(tzinfo=UTC))


@st.composite
def near_dst_change(draw) -> tuple[str, datetime]:
    zone = draw(st.sampled_from(DST_ZONES))
    changes = transitions(zone)
    change = draw(st.sampled_from(changes))
    offset = draw(st.integers(min_value=-3 * 24 * 3600, max_value=3 * 24 * 3600))
    return zone, change + timedelta(seconds=offset)


@st.composite
def zone_and_instant(draw) -> tuple[str, datetime]:
    if draw(st.booleans()):
        return draw(near_dst_change())
    return draw(st.sampled_from(ALL_ZONES)), draw(instants)


@st.composite
def windows(draw, resolution: int = QUARTER) -> tuple[Window, datetime]:
    """A window on some weekdays: daytime, overnight (end before start) or the whole day
    (end equals start), with edges at multiples of `resolution` minutes."""
    zone, now = draw(zone_and_instant())
    slots = 24 * 60 // resolution
    kind = draw(st.sampled_from(["day", "overnight", "whole day"]))
    if kind == "whole day":
        start = end = draw(st.integers(0, slots - 1))
    elif kind == "day":  # start < end <= midnight
        start = draw(st.integers(0, slots - 1))
        end = draw(st.integers(start + 1, slots))
    else:  # 0 < end < start
        start = draw(st.integers(2, slots - 1))
        end = draw(st.integers(1, start - 1))
    window = Window(
        draw(weekday_sets),
        clock_time(start * resolution),
        clock_time(end * resolution),
        ZoneInfo(zone),
    )
    return window, now


def regular(tz: ZoneInfo, day: date, t: time) -> bool:
    """The local time exists exactly once on that day (not skipped, not repeated)."""
    naive = datetime.combine(day, t)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        return False  # in a gap or a fold
    return first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def wall_clock_open(w: Window, instant: datetime) -> bool:
    """What the contact's clock says: an allowed day and a local time between start and end."""
    local = instant.astimezone(w.tz)
    t, today = local.time().replace(tzinfo=None), local.date()
    yesterday = today - timedelta(days=1)
    overnight = w.end <= w.start
    if str(today.weekday()) in w.days and t >= w.start and (overnight or t < w.end):
        return True
    return overnight and t < w.end and str(yesterday.weekday()) in w.days


def edges_regular_around(w: Window, a: datetime, b: datetime) -> bool:
    day = a.astimezone(w.tz).date() - timedelta(days=1)
    last = b.astimezone(w.tz).date() + timedelta(days=1)
    while day <= last:
        if not (regular(w.tz, day, w.start) and regular(w.tz, day, w.end)):
            return False
        day += timedelta(days=1)
    return True


# --- properties --------------------------------------------------------------------------------


@PROPS
@given(windows(resolution=MINUTE))
@example(
    (
        Window("6", time(0), time(0), ZoneInfo("America/Santiago")),
        datetime(2025, 9, 6, 12, tzinfo=UTC),
    )
)
@example(
    (
        Window("0123456", time(2, 30), time(2, 45), ZoneInfo("Europe/Berlin")),
        datetime(2025, 3, 29, 12, tzinfo=UTC),
    )
)
def test_next_open_is_never_in_the_past_is_inside_the_window_and_stable(case):
    w, now = case
    opens = w.next_open(now)
    assert opens >= now
    assert opens - now <= timedelta(days=8)
    assert w.contains(opens)
    assert w.next_open(opens) == opens
    assert (opens == now) == w.contains(now)
    if opens > now:
        # Nothing open just before the opening instant (it is the start of an interval).
        just_before = max(now, opens - timedelta(seconds=1))
        assert not w.contains(just_before)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(windows())
def test_no_open_instant_is_skipped_between_now_and_next_open(case):
    """Sampled with the engine's own `contains` every 10 minutes (windows are whole quarter
    hours, so no open stretch can hide between two samples) and every minute in the last
    hour before the opening."""
    w, now = case
    opens = w.next_open(now)
    t = now
    while t < opens:
        assert not w.contains(t), f"{t} is open but next_open({now}) said {opens}"
        t += timedelta(minutes=10) if opens - t > timedelta(hours=1) else timedelta(minutes=1)


@PROPS
@given(windows())
def test_the_window_agrees_with_the_contacts_wall_clock(case):
    """Where the window's edges are ordinary local times, `contains` is exactly "the contact's
    clock shows an allowed day and a time between start and end", and next_open is the first
    instant the clock says so."""
    w, now = case
    opens = w.next_open(now)
    assume(edges_regular_around(w, now, opens))
    assert w.contains(now) == wall_clock_open(w, now)
    assert wall_clock_open(w, opens)
    t = now
    while t < opens:
        assert not wall_clock_open(w, t), f"the contact's clock says open at {t}"
        t += timedelta(minutes=5)
    assert not wall_clock_open(w, max(now, opens - timedelta(seconds=1))) or opens == now


@PROPS
@given(near_dst_change(), weekday_sets)
def test_a_whole_day_window_on_its_days_is_open_at_every_instant_of_those_days(case, days):
    zone, now = case
    w = Window(days, time(0), time(0), ZoneInfo(zone))
    assert w.contains(now) == (str(now.astimezone(w.tz).weekday()) in days)


def test_transitions_are_found_for_the_zones_we_generate_around():
    for zone in DST_ZONES:
        assert transitions(zone), zone
    assert all(t.tzinfo is UTC for t in transitions("Europe/Berlin"))


# --- the cases users ask about ---------------------------------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_9_17 = Window("01234", time(9), time(17), BERLIN)
EVERY_DAY_9_17 = Window("0123456", time(9), time(17), BERLIN)


def at(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)


def test_9_to_17_berlin_on_the_spring_forward_sunday_opens_at_9_local_not_9_utc():
    # 2025-03-30: clocks jump 02:00 -> 03:00 in Berlin.
    early = at(BERLIN, 2025, 3, 30, 5, 0)
    opens = EVERY_DAY_9_17.next_open(early)
    assert opens == at(BERLIN, 2025, 3, 30, 9, 0)
    assert opens.astimezone(UTC) == datetime(2025, 3, 30, 7, 0, tzinfo=UTC)
    assert not EVERY_DAY_9_17.contains(at(BERLIN, 2025, 3, 30, 17, 0))
    assert EVERY_DAY_9_17.contains(at(BERLIN, 2025, 3, 30, 16, 59))


def test_9_to_17_berlin_on_the_fall_back_sunday_still_closes_at_17_local():
    # 2025-10-26: clocks fall back 03:00 -> 02:00; the day has 25 hours.
    assert EVERY_DAY_9_17.next_open(at(BERLIN, 2025, 10, 26, 2, 30)) == at(BERLIN, 2025, 10, 26, 9)
    assert EVERY_DAY_9_17.contains(at(BERLIN, 2025, 10, 26, 16, 59))
    closing = at(BERLIN, 2025, 10, 26, 17)
    assert not EVERY_DAY_9_17.contains(closing)
    assert EVERY_DAY_9_17.next_open(closing) == at(BERLIN, 2025, 10, 27, 9)


def test_friday_evening_waits_until_monday_9():
    friday_evening = at(BERLIN, 2025, 6, 13, 18, 0)
    opens = WEEKDAYS_9_17.next_open(friday_evening)
    assert opens == at(BERLIN, 2025, 6, 16, 9, 0)
    assert opens.astimezone(BERLIN).strftime("%A %H:%M") == "Monday 09:00"
    assert describe_wait(opens, BERLIN) == "sending window opens Mon 09:00 Europe/Berlin"


def test_inside_the_window_sends_now():
    now = at(BERLIN, 2025, 6, 12, 11, 23)
    assert WEEKDAYS_9_17.next_open(now) == now


def test_22_to_06_overnight_window_stays_open_past_midnight_and_reopens_at_22():
    overnight = Window("0123456", time(22), time(6), BERLIN)
    assert overnight.contains(at(BERLIN, 2025, 6, 12, 23, 30))
    assert overnight.contains(at(BERLIN, 2025, 6, 13, 5, 59))
    six = at(BERLIN, 2025, 6, 13, 6, 0)
    assert not overnight.contains(six)
    assert overnight.next_open(six) == at(BERLIN, 2025, 6, 13, 22, 0)


def test_an_overnight_window_belongs_to_the_day_it_starts_on():
    friday_night = Window("4", time(22), time(6), BERLIN)  # Friday only
    assert friday_night.contains(at(BERLIN, 2025, 6, 14, 3, 0))  # Saturday 03:00
    assert not friday_night.contains(at(BERLIN, 2025, 6, 13, 3, 0))  # Friday 03:00
    assert friday_night.next_open(at(BERLIN, 2025, 6, 14, 6, 0)) == at(BERLIN, 2025, 6, 20, 22)


def test_a_midnight_to_midnight_window_is_open_all_of_its_days():
    weekend = Window("56", time(0), time(0), BERLIN)
    assert weekend.contains(at(BERLIN, 2025, 6, 14, 0, 0))
    assert weekend.contains(at(BERLIN, 2025, 6, 15, 23, 59))
    assert weekend.next_open(at(BERLIN, 2025, 6, 16, 0, 0)) == at(BERLIN, 2025, 6, 21, 0, 0)


def test_new_york_fall_back_night_opens_at_the_first_1_30():
    ny = ZoneInfo("America/New_York")
    w = Window("0123456", time(1, 30), time(4), ny)
    opens = w.next_open(datetime(2025, 11, 2, 4, 0, tzinfo=UTC))  # 00:00 EDT
    assert opens == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first one
    assert w.contains(datetime(2025, 11, 2, 6, 30, tzinfo=UTC))  # 01:30 EST, the second one


def test_lord_howe_half_hour_shift_keeps_a_9_oclock_opening_at_9_local():
    lh = ZoneInfo("Australia/Lord_Howe")
    w = Window("0123456", time(9), time(17), lh)
    # 2025-10-05 02:00 -> 02:30 (+10:30 -> +11:00)
    assert w.next_open(at(lh, 2025, 10, 5, 1, 0)) == at(lh, 2025, 10, 5, 9, 0)
    assert at(lh, 2025, 10, 5, 9, 0).utcoffset() == timedelta(hours=11)


def test_santiago_window_starting_at_a_midnight_that_does_not_exist_opens_at_1am():
    cl = ZoneInfo("America/Santiago")
    w = Window("6", time(0), time(6), cl)  # Sundays 00:00-06:00
    # On Sunday 2025-09-07 clocks jump from 00:00 to 01:00: the window opens at 01:00 -03.
    opens = w.next_open(datetime(2025, 9, 6, 12, tzinfo=UTC))
    assert opens == datetime(2025, 9, 7, 4, 0, tzinfo=UTC)
    assert opens.astimezone(cl).strftime("%H:%M %z") == "01:00 -0300"


def test_a_window_without_days_is_refused():
    with pytest.raises(ValueError, match="at least one day"):
        Window("", time(9), time(17), BERLIN).next_open(at(BERLIN, 2025, 6, 12, 8))
