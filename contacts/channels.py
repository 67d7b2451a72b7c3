"""The channels a contact can be reached on: every channel of settings.CHANNELS, and a phone
number (an identity no channel sends to by itself; WhatsApp is matched by it).

contacts is the lowest app and imports no other: it reads only the `key` and `label` of each
settings.CHANNELS entry (the registry, outreach/channels/registry.py, knows the rest). Model
fields take the callable `channel_choices`, so adding a channel needs no migration.
"""

from collections.abc import Iterator, Sequence
from functools import cache
from typing import overload

from django.conf import settings
from django.utils.module_loading import import_string

EMAIL = "email"
PHONE = "phone"
WHATSAPP = "whatsapp"
INSTAGRAM = "instagram"
MESSENGER = "messenger"
X = "x"
TELEGRAM = "telegram"
LINKEDIN = "linkedin"
TIKTOK = "tiktok"
SNAPCHAT = "snapchat"


@cache
def _choices(paths: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    configured = [(c.key, c.label) for c in map(import_string, paths)]
    if any(key == PHONE for key, _ in configured):  # the manual "Phone call" channel
        return tuple(configured)
    # A phone number is listed after the first channel (email), where it always was.
    return (*configured[:1], (PHONE, "Phone"), *configured[1:])


def channel_choices() -> list[tuple[str, str]]:
    return list(_choices(tuple(settings.CHANNELS)))


class _Lazy(Sequence):
    """A list read when used, not when imported: settings.CHANNELS may change (tests)."""

    def __init__(self, pick) -> None:
        self._pick = pick

    def _items(self) -> list:
        return [self._pick(choice) for choice in channel_choices()]

    @overload
    def __getitem__(self, index: int): ...
    @overload
    def __getitem__(self, index: slice) -> list: ...
    def __getitem__(self, index):
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator:
        return iter(self._items())


CHANNEL_CHOICES: Sequence[tuple[str, str]] = _Lazy(lambda choice: choice)
CHANNELS: Sequence[str] = _Lazy(lambda choice: choice[0])


def channel_label(key: str) -> str:
    """What people read for a channel key (the key itself when no channel has it)."""
    return dict(channel_choices()).get(key, key)
