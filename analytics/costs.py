"""What a campaign's forecast sends will cost on the platforms that bill per message: WhatsApp
(per delivered template message, by category and the recipient's country, from the rate card
in deliverability/data/whatsapp_prices.csv) and X (per DM created, and per DM event read by
reply polling). Shown with the forecast before launch; docs/deliverability.md#costs.

Assumed: every planned template message is delivered (Meta bills delivered ones only), a
template whose category is not known is billed as marketing (the dearest), and free-form
WhatsApp messages go inside the customer-service window, which is free.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils.translation import ngettext

from analytics.forecast import Forecast
from campaigns.models import Campaign, Enrollment
from contacts.models import Identity
from deliverability.prices import phone_country, whatsapp_market, whatsapp_price, x_prices
from outreach import policy
from outreach.channels import get_channel
from outreach.channels.x.backend import POLL_PAGE_SIZE


@dataclass
class CostLine:
    category: str  # MARKETING, UTILITY, AUTHENTICATION
    country: str  # ISO code, "" when the number does not tell
    market: str  # the rate card's row
    count: int
    unit: Decimal
    verified: bool = True  # the rate card row was checked against Meta's own (prices.py)

    @property
    def total(self) -> Decimal:
        return self.unit * self.count


@dataclass
class CampaignCosts:
    whatsapp: list[CostLine] = field(default_factory=list)
    whatsapp_free: int = 0  # free-form messages (inside the 24 h window)
    uncategorised: int = 0  # templates without a synced category, billed as marketing
    x_dms: int = 0
    x_dm_price: Decimal = Decimal(0)
    x_polls: int = 0
    x_events_per_poll: int = 0
    x_event_price: Decimal = Decimal(0)

    @property
    def whatsapp_total(self) -> Decimal:
        return sum((line.total for line in self.whatsapp), Decimal(0))

    @property
    def x_dm_total(self) -> Decimal:
        return self.x_dm_price * self.x_dms

    @property
    def x_poll_total(self) -> Decimal:
        return self.x_event_price * self.x_polls * self.x_events_per_poll

    @property
    def total(self) -> Decimal:
        return self.whatsapp_total + self.x_dm_total + self.x_poll_total

    def summary(self) -> list[str]:
        """The costs in words, e.g. "WhatsApp: about $0.41 for 3 template messages"."""
        lines = []
        if self.whatsapp:
            n = sum(line.count for line in self.whatsapp)
            parts = ", ".join(
                f"{line.count} {line.category.lower()} to {line.country or 'unknown countries'}"
                f" at {_usd(line.unit)}{'' if line.verified else ' (estimate, unverified)'}"
                for line in self.whatsapp
            )
            lines.append(
                f"WhatsApp: about {_usd(self.whatsapp_total)} for {n} template "
                f"{ngettext('message', 'messages', n)} ({parts})."
            )
        if self.uncategorised:
            n = self.uncategorised
            lines.append(
                f"{n} WhatsApp {ngettext('template message has', 'template messages have', n)}"
                " no known category: priced as marketing."
            )
        if self.whatsapp_free:
            n = self.whatsapp_free
            lines.append(
                f"{n} free-form WhatsApp {ngettext('message goes', 'messages go', n)} inside the "
                "24 h window: free."
            )
        if self.x_dms:
            lines.append(
                f"X: about {_usd(self.x_dm_total)} for {self.x_dms} "
                f"{ngettext('DM', 'DMs', self.x_dms)} at {_usd(self.x_dm_price)} each."
            )
        if self.x_polls:
            lines.append(
                f"X reply polling: up to {_usd(self.x_poll_total)} for {self.x_polls} "
                f"{ngettext('poll', 'polls', self.x_polls)} of up to {self.x_events_per_poll} "
                f"events at {_usd(self.x_event_price)} per event read."
            )
        return lines


def _usd(amount: Decimal) -> str:
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.4f}".rstrip("0")


def campaign_costs(*, campaign: Campaign, forecast: Forecast) -> CampaignCosts:
    costs = CampaignCosts()
    wa = [s for s in forecast.sends if s.route and s.route.channel == "whatsapp"]
    numbers = _whatsapp_numbers({s.enrollment_id for s in wa})
    lines: Counter[tuple[str, str]] = Counter()
    for send in wa:
        assert send.route is not None
        template = policy.template_of(send.route.attachments)
        if template is None:
            costs.whatsapp_free += 1
            continue
        category = str(template.get("category") or "").upper()
        if category not in ("MARKETING", "UTILITY", "AUTHENTICATION"):
            costs.uncategorised += 1
            category = "MARKETING"
        lines[(category, phone_country(numbers.get(send.enrollment_id, "")))] += 1
    costs.whatsapp = [
        CostLine(
            cat,
            country,
            whatsapp_market(country).name,
            n,
            whatsapp_price(country, cat),
            verified=whatsapp_market(country).verified,
        )
        for (cat, country), n in sorted(lines.items())
    ]
    x_sends = [s for s in forecast.sends if s.route and s.route.channel == "x"]
    costs.x_dm_price, costs.x_event_price = x_prices()
    costs.x_dms = len(x_sends)
    costs.x_polls = _x_polls(campaign, forecast) if x_sends else 0
    costs.x_events_per_poll = POLL_PAGE_SIZE if costs.x_polls else 0
    return costs


def _whatsapp_numbers(enrollment_ids: set[int]) -> dict[int, str]:
    contacts = dict(
        Enrollment.objects.filter(id__in=enrollment_ids).values_list("id", "contact_id")
    )
    by_contact = dict(
        Identity.objects.filter(contact_id__in=contacts.values(), channel="whatsapp")
        .order_by("-id")  # oldest wins, as in the dispatcher
        .values_list("contact_id", "value")
    )
    return {eid: by_contact.get(cid, "") for eid, cid in contacts.items()}


def _x_polls(campaign: Campaign, forecast: Forecast) -> int:
    """Polls of the campaign's X senders from now until its last planned send: one every
    MAILBOX_POLL_INTERVAL seconds per sender (outreach/tasks.py, outreach/dmpoll.py), when
    replies are read by polling at all (X_POLL)."""
    try:
        polls = bool(getattr(get_channel("x"), "polls", False))
    except LookupError:
        return 0
    senders = campaign.senders.filter(channel="x", paused=False).count()
    if not polls or not senders:
        return 0
    last = max(s.at for s in forecast.sends)
    seconds = max((last - forecast.now).total_seconds(), 0.0)
    return senders * max(1, math.ceil(seconds / settings.MAILBOX_POLL_INTERVAL))
