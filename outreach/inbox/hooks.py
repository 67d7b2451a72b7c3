"""How apps above outreach add to the inbox without outreach importing them.

campaigns registers its filters (campaign, deal stage) and contact-card sections (deals,
campaigns) here at start-up (campaigns/inbox_hooks.py): page furniture that outreach asks
for, not news of a change (that goes through outreach/seams.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class InboxFilter:
    name: str  # the query-string key
    label: str
    choices: Callable[[Any], list[tuple[str, str]]]  # (user) -> [(value, label)]
    apply: Callable[[QuerySet, str], QuerySet]  # (conversations, value) -> conversations


@dataclass(frozen=True)
class CardSection:
    title: str
    rows: list[tuple[str, str]]  # (text, link or "")


inbox_filters: list[InboxFilter] = []
# Callables (contact) -> CardSection | None, shown on the conversation's contact card.
contact_card_sections: list[Callable[[Any], CardSection | None]] = []
# Callables (messages) -> {message id: label}, shown under each message of a thread, e.g.
# the template version a campaign message was rendered from. One query per callable.
message_labels: list[Callable[[list[Any]], dict[int, str]]] = []
# Callables (message, label) -> [sentence]: what labelling this inbound message by hand would
# do that cannot simply be undone (an opt-out, a deal closed), e.g. "Their deal in Sales moves
# from Interested to Lost." The inbox asks the rep to confirm before applying such a label.
intent_consequences: list[Callable[[Any, str], list[str]]] = []
