"""Platform prices a forecast multiplies by: WhatsApp's per-message rate card (a dated file
in the repository, deliverability/data/whatsapp_prices.csv, which a team edits when Meta
changes it) and X's pay-per-use prices (settings X_PRICE_PER_DM, X_PRICE_PER_EVENT_READ).
docs/deliverability.md#costs says where the figures come from."""

import csv
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import phonenumbers
from django.conf import settings

PRICES_FILE = Path(__file__).resolve().parent / "data" / "whatsapp_prices.csv"
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
OTHER = "Other"


@dataclass(frozen=True)
class Market:
    name: str
    prices: dict[str, Decimal]  # category -> USD per delivered message
    as_of: str = ""  # the date the figures were read
    source: str = ""  # where they were read
    # False: the figures could not be checked against Meta's own rate card (the file's
    # header says why): the forecast calls them an unverified estimate.
    verified: bool = False


@cache
def _rate_card(path: Path = PRICES_FILE) -> tuple[dict[str, Market], Market]:
    """Country code -> market, and the market for every other country."""
    by_country: dict[str, Market] = {}
    other = None
    with path.open(newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        for row in rows:
            prices = {c: Decimal(row[c.lower()]) for c in CATEGORIES}
            market = Market(
                row["market"],
                prices,
                as_of=row.get("as_of") or "",
                source=row.get("source") or "",
                verified=(row.get("verified") or "").strip().lower() == "yes",
            )
            for code in row["countries"].split():
                by_country[code.upper()] = market
            if row["market"] == OTHER:
                other = market
    if other is None:
        raise ValueError(f"{path} has no {OTHER} row")
    return by_country, other


def phone_country(number: str) -> str:
    """ISO country code of a phone number in international form ("+41 44 …" -> "CH"); ""
    when it cannot be told."""
    digits = number.strip()
    if not digits.startswith("+"):
        digits = f"+{digits}"
    try:
        parsed = phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.region_code_for_number(parsed) or ""


def whatsapp_market(country: str) -> Market:
    by_country, other = _rate_card()
    return by_country.get(country.upper(), other)


def whatsapp_price(country: str, category: str) -> Decimal:
    """USD for one delivered template message of this category to this country."""
    return whatsapp_market(country).prices[category.upper()]


def x_prices() -> tuple[Decimal, Decimal]:
    """(per DM created, per DM event read) in USD, as configured for the team's X account."""
    return Decimal(str(settings.X_PRICE_PER_DM)), Decimal(str(settings.X_PRICE_PER_EVENT_READ))
