"""Dates written in replies ("back on 12 May", "bis zum 12.05.", "until June 3rd, 2025").

The return date of an out-of-office is the latest date on or after the day it arrived:
"away from 1 to 12 May" returns on the 12th.
"""

import re
from datetime import date, timedelta

MONTHS = {
    # English, German, French, Spanish; abbreviations by prefix below.
    "january": 1, "januar": 1, "jänner": 1, "janvier": 1, "enero": 1,
    "february": 2, "februar": 2, "février": 2, "fevrier": 2, "febrero": 2,
    "march": 3, "märz": 3, "maerz": 3, "mars": 3, "marzo": 3,
    "april": 4, "avril": 4, "abril": 4,
    "may": 5, "mai": 5, "mayo": 5,
    "june": 6, "juni": 6, "juin": 6, "junio": 6,
    "july": 7, "juli": 7, "juillet": 7, "julio": 7,
    "august": 8, "août": 8, "aout": 8, "agosto": 8,
    "september": 9, "septembre": 9, "septiembre": 9,
    "october": 10, "oktober": 10, "octobre": 10, "octubre": 10,
    "november": 11, "novembre": 11, "noviembre": 11,
    "december": 12, "dezember": 12, "décembre": 12, "decembre": 12, "diciembre": 12,
}  # fmt: skip
ABBREV = {"jan": 1, "feb": 2, "mar": 3, "mär": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8,
          "sep": 9, "sept": 9, "oct": 10, "okt": 10, "nov": 11, "dec": 12, "dez": 12}  # fmt: skip
MONTH = r"(?P<month>[a-zäéû]{3,9})\.?"
YEAR = r"(?P<year>\d{4})"
RECENT = timedelta(days=31)
# "until the 18th": a day of the month without a month is the next such day.
DAY_ONLY = re.compile(r"\bthe (?P<day>\d{1,2})(?:st|nd|rd|th)\b(?!\s+(?:of\s+)?[a-z])", re.I)

PATTERNS = [
    re.compile(r"\b(?P<year>\d{4})-(?P<m>\d{1,2})-(?P<day>\d{1,2})\b"),
    # 12.05.2025, 12.05.25, 12.05. (German), 12/05/2025 (day first outside the US)
    re.compile(r"\b(?P<day>\d{1,2})[./](?P<m>\d{1,2})(?:[./](?P<year>\d{2,4})|\.)?(?!\d)"),
    # 12 May 2025, 12. Mai, 12th of May, le 12 mai, 12 de mayo
    re.compile(
        rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th|er)?\.?\s+(?:of\s+|de\s+)?{MONTH}"
        rf"(?:,?\s+(?:de\s+)?{YEAR})?",
        re.I,
    ),  # fmt: skip
    # May 12, 2025 / June 3rd
    re.compile(rf"\b{MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+{YEAR})?", re.I),
]


def _month(word: str) -> int | None:
    word = word.lower().rstrip(".")
    return MONTHS.get(word) or ABBREV.get(word)


def _year(raw: str | None, month: int, day: int, today: date) -> int:
    if raw:
        year = int(raw)
        return year + 2000 if year < 100 else year
    # No year: the next such day from today (a return date is never in the past), unless the
    # day passed only recently: in "on leave from 20 December to 4 January", received on
    # 22 December, the 20th is this year's (the leave's start), not next year's.
    try:
        this_year = date(today.year, month, day)
    except ValueError:
        return today.year
    return today.year if this_year >= today - RECENT else today.year + 1


def dates_in(text: str, today: date) -> list[date]:
    found = []
    for pattern in PATTERNS:
        for m in pattern.finditer(text):
            parts = m.groupdict()
            month = int(parts["m"]) if parts.get("m") else _month(parts.get("month") or "")
            if not month:
                continue
            day = int(parts["day"])
            if parts.get("m") and month > 12 and day <= 12:
                day, month = month, day  # 05/12/2025 written US style
            try:
                found.append(date(_year(parts.get("year"), month, day, today), month, day))
            except ValueError:
                continue
    for m in DAY_ONLY.finditer(text):
        day, month, year = int(m["day"]), today.month, today.year
        if day < today.day:
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        try:
            found.append(date(year, month, day))
        except ValueError:
            continue
    return found


def latest_date(text: str, today: date) -> date | None:
    upcoming = [d for d in dates_in(text, today) if today <= d <= date(today.year + 1, 12, 31)]
    return max(upcoming) if upcoming else None
