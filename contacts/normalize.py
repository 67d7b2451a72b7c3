"""Turn what people type into one canonical form per channel.

Each normalizer returns the canonical value or raises ``Invalid`` with a reason a sales rep
can act on. No database access here: these run a million times per import.
"""

from __future__ import annotations

import re
import unicodedata
from email.utils import getaddresses, parseaddr
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import phonenumbers
from babel import Locale

from contacts import channels


class Invalid(ValueError):
    """A value that cannot be used, with the reason as its message."""


# Deliberately simpler than RFC 5322: what mail providers actually accept.
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_MAILTO = re.compile(r"^mailto:", re.I)


def email(value: str) -> str:
    if "<" in value:
        value = parseaddr(value)[1] or value  # "Jane Doe <jane@example.com>"
    value = _MAILTO.sub("", value.strip()).strip("<>").strip()
    if len(value) > 254:
        raise Invalid("email address is longer than 254 characters")
    if not _EMAIL_RE.match(value):
        raise Invalid(f"{_shorten(value)!r} is not an email address")
    local, _, domain = value.rpartition("@")
    # The local part is case-sensitive in theory; no real mailbox provider treats it so, and
    # duplicates differing only in case are the most common import mistake.
    return f"{local}@{domain}".lower()


def mailboxes(value: str) -> list[str]:
    """The addresses of a cell such as ``"Doe, Jane" <jane@example.com>, bob@example.com``."""
    found = [address for _, address in getaddresses([value]) if address]
    return found or [value]


_MIN_KEPT_DIGITS = 6
_PHONE_JUNK = re.compile(r"^(tel:|phone:|mobile:)", re.I)


def phone(value: str, default_region: str = "") -> str:
    """E.164 (``+4915112345678``); national numbers need ``default_region`` (``DE``)."""
    e164, refused, doubt = _phone(value, default_region)
    if refused or doubt:
        raise Invalid(refused or f"{_shorten(value)!r} is not a valid phone number")
    return e164


def phone_or_doubt(value: str, default_region: str = "") -> tuple[str, str]:
    """Like ``phone``, but a number of a possible length that libphonenumber does not know
    as valid (a new number range, metadata out of date) comes back with the doubt instead of
    being refused: an import keeps it and says so, rather than losing the number."""
    e164, refused, doubt = _phone(value, default_region)
    if refused:
        raise Invalid(refused)
    return e164, doubt


# phonenumbers costs ~30 µs a number; real files repeat numbers (switchboards, duplicate
# rows, the same file imported twice in one worker). Failures are cached too, as reasons.
@lru_cache(maxsize=50_000)
def _phone(value: str, default_region: str) -> tuple[str, str, str]:
    """(E.164, why it is refused, why it may not be valid)."""
    raw = _PHONE_JUNK.sub("", value.strip())
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, default_region.upper() or None)
    except phonenumbers.NumberParseException:
        if not raw.startswith("+") and not default_region:
            return (
                "",
                f"{_shorten(value)!r} has no country code and the import has no default country",
                "",
            )
        return "", f"{_shorten(value)!r} is not a phone number", ""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(number):
        return e164, "", ""
    # "Possible" is only a length check, and some countries' lengths start at two digits
    # (Germany: "12" is possible): a number shorter than any real line with its area code
    # is an extension or a typo, not a phone number to keep.
    nsn = phonenumbers.national_significant_number(number)
    if phonenumbers.is_possible_number(number) and len(nsn) >= _MIN_KEPT_DIGITS:
        return e164, "", f"{_shorten(value)!r} may not be a valid phone number: kept"
    return "", f"{_shorten(value)!r} is not a valid phone number", ""


def phone_country_of_number(value: str) -> str:
    """The country of a number written with its +CC (``+49 30 …`` -> ``DE``; ``+1`` -> ``US``),
    or "" for a national number."""
    raw = _PHONE_JUNK.sub("", value.strip())
    raw = "+" + raw[2:] if raw.startswith("00") else raw
    if not raw.startswith("+"):
        return ""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return ""
    region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    return region if region in phonenumbers.SUPPORTED_REGIONS else ""


def phone_country_of_name(value: str) -> str:
    """A country cell as a region phone numbers can be read in, or ""."""
    code = _country(value)
    return code if code in phonenumbers.SUPPORTED_REGIONS else ""


# Host names (without www./m./mobile.) that a profile URL may carry, per channel.
_HOSTS = {
    channels.INSTAGRAM: {"instagram.com", "instagr.am"},
    channels.X: {"twitter.com", "x.com"},
    channels.TELEGRAM: {"t.me", "telegram.me", "telegram.dog"},
    channels.LINKEDIN: {"linkedin.com"},
    channels.TIKTOK: {"tiktok.com"},
    channels.SNAPCHAT: {"snapchat.com"},
    channels.MESSENGER: {"facebook.com", "fb.com", "m.me", "messenger.com"},
}
# What a bare handle may look like on each platform.
_HANDLE_RE = {
    channels.INSTAGRAM: re.compile(r"^[a-z0-9._]{1,30}$"),
    channels.X: re.compile(r"^[a-z0-9_]{1,15}$"),
    channels.TELEGRAM: re.compile(r"^[a-z][a-z0-9_]{3,31}$"),
    channels.LINKEDIN: re.compile(r"^[a-z0-9\-_%.]{2,100}$"),
    channels.TIKTOK: re.compile(r"^[a-z0-9._]{2,24}$"),
    channels.SNAPCHAT: re.compile(r"^[a-z][a-z0-9._-]{2,14}$"),
    channels.MESSENGER: re.compile(r"^[a-z0-9.]{5,50}$|^\d{5,20}$"),
}
_URLISH = re.compile(r"^(https?://)?([a-z0-9-]+\.)+[a-z]{2,}/", re.I)


def handle(channel: str, value: str) -> str:
    """A bare lower-case handle from ``@handle``, ``handle`` or any profile URL form."""
    value = value.strip()
    lowered = value.lower()
    if _URLISH.match(lowered) or lowered.startswith(("http://", "https://")):
        value = _handle_from_url(channel, value)
    handle_ = value.strip().lstrip("@").rstrip("/").lower()
    if channel == channels.LINKEDIN and handle_.startswith("in/"):
        handle_ = handle_[3:]
    if channel == channels.MESSENGER and handle_.startswith("profile.php?id="):
        handle_ = handle_.removeprefix("profile.php?id=")
    pattern = _HANDLE_RE.get(channel)
    if not handle_ or (pattern and not pattern.match(handle_)):
        raise Invalid(f"{_shorten(value)!r} is not a {channels_label(channel)} handle or URL")
    return handle_


def _handle_from_url(channel: str, value: str) -> str:
    url = value if "://" in value else "https://" + value
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "m.", "mobile.", "de.", "uk."):
        host = host.removeprefix(prefix)
    if host not in _HOSTS.get(channel, set()):
        raise Invalid(f"{_shorten(value)!r} is not a {channels_label(channel)} URL")
    segments = [s for s in parts.path.split("/") if s]
    if channel == channels.LINKEDIN:
        # linkedin.com/in/jane-doe-123 ; company pages are not people.
        if len(segments) >= 2 and segments[0] == "in":
            return segments[1]
        raise Invalid(f"{_shorten(value)!r} is not a LinkedIn profile URL (linkedin.com/in/…)")
    if channel == channels.MESSENGER and segments[:1] == ["profile.php"]:
        return parts.query.removeprefix("id=").split("&")[0]
    if channel == channels.SNAPCHAT and segments[:1] == ["add"]:
        segments = segments[1:]
    if not segments:
        raise Invalid(f"{_shorten(value)!r} has no profile name in it")
    return segments[0].removeprefix("@")


def channels_label(channel: str) -> str:
    return dict(channels.CHANNEL_CHOICES).get(channel, channel)


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return {z.lower(): z for z in available_timezones()}


# Names that exports write instead of IANA zones.
_ZONE_ALIASES = {
    "utc": "UTC",
    "gmt": "UTC",
    "cet": "Europe/Berlin",
    "cest": "Europe/Berlin",
    "mez": "Europe/Berlin",
    "est": "America/New_York",
    "edt": "America/New_York",
    "eastern time": "America/New_York",
    "cst": "America/Chicago",
    "central time": "America/Chicago",
    "mst": "America/Denver",
    "mountain time": "America/Denver",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "pacific time": "America/Los_Angeles",
    "bst": "Europe/London",
}


# "GMT+1", "UTC+02:00", "UTC-5": a fixed offset, which the Etc/GMT zones hold (with the sign
# flipped: Etc/GMT-1 is UTC+1). Half-hour offsets have no such zone.
_OFFSET = re.compile(r"^(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$")


def time_zone(value: str) -> str:
    key = value.strip().lower().replace(" ", "_")
    found = _zones().get(key) or _ZONE_ALIASES.get(value.strip().lower())
    if found:
        return found
    offset = _OFFSET.match(value.strip().lower())
    if offset:
        sign, hours, minutes = offset.groups()
        if int(minutes or 0) == 0 and int(hours) <= (14 if sign == "+" else 12):
            if int(hours) == 0:
                return "UTC"
            return f"Etc/GMT{'-' if sign == '+' else '+'}{int(hours)}"
        raise Invalid(
            f"{_shorten(value)!r} is an offset no IANA zone has all year: give the zone "
            "(e.g. Asia/Kolkata)"
        )
    raise Invalid(f"{_shorten(value)!r} is not an IANA time zone (e.g. Europe/Berlin)")


def country(value: str) -> str:
    """An ISO 3166 alpha-2 code from a code (``se``), a name (``Sweden``, ``Schweden``,
    ``Suède``) or a common alias (``UK``, ``USA``)."""
    code = _country(value)
    if not code:
        raise Invalid(f"{_shorten(value)!r} is not a country (ISO code such as DE, or its name)")
    return code


# A file holds a handful of distinct countries in a million rows.
@lru_cache(maxsize=4096)
def _country(value: str) -> str:
    key = _country_key(value)
    code = key.upper()
    if len(code) == 2 and code in _country_codes():
        return code
    return _COUNTRY_ALIASES.get(key) or _country_names().get(key, "")


# For a form or an API that asks for the country of national phone numbers.
DEFAULT_COUNTRY_ERROR = (
    "{value!r} is not a country code that phone numbers use: give an ISO 3166 code such as "
    "DE, GB or US."
)


def phone_region(value: str) -> str:
    """A country that phone numbers can be read in, e.g. the default country of an import
    (``UK`` is ``GB``)."""
    code = country(value)
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise Invalid(f"{_shorten(value)!r} has no phone numbers of its own")
    return code


def _country_key(value: str) -> str:
    # Without accents and with a plain apostrophe: files write "Cote d'Ivoire" and "Österreich"
    # as often as CLDR's "Côte d’Ivoire".
    decomposed = unicodedata.normalize("NFKD", value.replace("\u2019", "'"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.split()).lower()


# The languages of the exports headers.py knows. Babel's names come from Unicode CLDR, kept
# current with ISO 3166 (Czechia, Türkiye, Eswatini); the aliases below are the older or
# informal names people still type.
_COUNTRY_LOCALES = ["en", "de", "fr", "es", "it", "nl", "pt", "pl"]
# CLDR territory codes that are groupings, reserved or pseudo regions, not countries.
_NOT_COUNTRIES = {"CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "UN", "XA", "XB", "ZZ"}


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for locale in _COUNTRY_LOCALES:
        for code, name in Locale(locale).territories.items():
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
                names.setdefault(_country_key(name), code)
    return names


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    return frozenset(_country_names().values())


_COUNTRY_ALIASES = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states of america": "US",
    "holland": "NL",
    "the netherlands": "NL",
    "czech republic": "CZ",
    "turkey": "TR",
    "ivory coast": "CI",
    "republic of korea": "KR",
    "russian federation": "RU",
    "viet nam": "VN",
    "hong kong": "HK",
    "macau": "MO",
    "burma": "MM",
    "macedonia": "MK",
    "swaziland": "SZ",
    "uae": "AE",
}

_TRUE = {"1", "true", "yes", "y", "ja", "j", "x", "wahr", "opted in", "opt-in", "subscribed"}
_FALSE = {"", "0", "false", "no", "n", "nein", "falsch", "-"}


def boolean(value: str) -> bool:
    key = value.strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise Invalid(f"{_shorten(value)!r} is not yes/no")


# A date or timestamp, as exports write when someone opted out: Mailchimp's UNSUB_TIME
# "2024-03-05 10:22:01", "3/5/2024", "05.03.2024 10:22".
_DATE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}\S*(?: ?[+-]?\w+)?)?$")


def opted_out(value: str) -> bool:
    """Yes/no, or the date someone opted out (which means yes)."""
    try:
        return boolean(value)
    except Invalid:
        if _DATE.match(value.strip()):
            return True
        raise Invalid(f"{_shorten(value)!r} is not yes/no or the date of an opt-out") from None


_ANY_SEPARATOR = re.compile(r"[;,|\n]|:::")
_SPLIT_ANY = re.compile(r"\s*(?::::|[;,|\n])\s*")
_SPLIT_HANDLES = re.compile(r"\s*(?::::|[;,|\s])\s*")


def split_values(value: str, *, on_space: bool = False) -> list[str]:
    """Multi-value cells: ``a; b``, ``a, b``, Google's ``a ::: b``, one per line."""
    if not _ANY_SEPARATOR.search(value) and not (on_space and " " in value.strip()):
        return [value.strip()] if value.strip() else []  # the common case, without a split
    parts = (_SPLIT_HANDLES if on_space else _SPLIT_ANY).split(value.strip())
    return [p for p in parts if p]


def _shorten(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
