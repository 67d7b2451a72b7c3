"""Sending-window arithmetic in a contact's local time, DST-safe.

A window is a set of weekdays plus a local start and end time. When the end is not after the
start the window runs overnight (22:00-06:00 belongs to the day it starts on); equal start and
end mean the whole day. Local times that do not exist (spring-forward gaps) resolve the way
zoneinfo resolves them with fold=0, so an opening instant is always well defined.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Window:
    days: str  # weekday digits, 0=Monday
    start: time
    end: time
    tz: ZoneInfo

    def _interval(self, day: date) -> tuple[datetime, datetime]:
        opens = datetime.combine(day, self.start, tzinfo=self.tz).astimezone(UTC)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        closes = datetime.combine(end_day, self.end, tzinfo=self.tz).astimezone(UTC)
        return opens, closes

    def _intervals_around(self, now: datetime):
        local_day = now.astimezone(self.tz).date()
        for offset in range(-2, 9):
            day = local_day + timedelta(days=offset)
            if str(day.weekday()) in self.days:
                opens, closes = self._interval(day)
                if closes > opens:
                    yield opens, closes

    def contains(self, now: datetime) -> bool:
        return any(opens <= now < closes for opens, closes in self._intervals_around(now))

    def next_open(self, now: datetime) -> datetime:
        """`now` if the window is open, else the next instant it opens."""
        if not self.days:
            raise ValueError("A sending window needs at least one day.")
        upcoming = []
        for opens, closes in self._intervals_around(now):
            if opens <= now < closes:
                return now
            if opens > now:
                upcoming.append(opens)
        return min(upcoming)


def describe_wait(opens_at: datetime, tz: ZoneInfo) -> str:
    local = opens_at.astimezone(tz)
    return f"sending window opens {local:%a %H:%M} {tz.key}"
