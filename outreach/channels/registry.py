"""The channels the engine knows, built from settings.CHANNELS.

Each entry of settings.CHANNELS is the dotted path of one `Channel` (like Django's
EMAIL_BACKEND names a class): what the rest of the code needs to know about a channel
without asking it by name. The lint reads text limits and link rewrites from here, the media
check its size limits, the webhook view whether it takes webhooks, config/settings.py its
backend. A channel's package under outreach/channels/<name>/ declares it
(docs/channels.md#adding-a-channel). Nothing here imports models: config/settings.py reads
it while settings load.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string

MB = 1024 * 1024
CONSOLE = "outreach.channels.console.ConsoleChannel"
MANUAL = "outreach.channels.manual.backend.ManualChannel"
_URL = re.compile(r"https?://[^\s<>\"']+")

# kind -> (max bytes, allowed content types or None for any); kinds are outreach.media.KINDS
MediaLimits = Mapping[str, tuple[int, frozenset[str] | None]]


@dataclass(frozen=True)
class Channel:
    key: str  # stored in Identity.channel, SenderAccount.channel, Message.channel (≤ 20)
    label: str  # what people read: "WhatsApp", "Facebook Messenger"
    # The real backend (a BaseChannel subclass), used with PLATFORM_BACKENDS=true; without
    # it an automated channel prints to the console and a manual one makes tasks for reps.
    backend: str = CONSOLE
    automated: bool = True
    # The entry of settings.CHANNEL_SECRETS whose values are the backend's options (Meta's
    # three channels share one app secret).
    secrets: str = ""
    # PLATFORM_BASE_URL points its API calls at another host (not email, which uses SMTP).
    platform_api: bool = True
    # The platform tells us when a message arrived (a delivery receipt or status webhook);
    # without it the dashboards say delivery is not reported instead of showing 0%.
    delivery_receipts: bool = True
    # Seconds after the claim before an ambiguous send (status unknown) is settled: looked
    # up, or put to review where the platform cannot tell. It must outlast a request we
    # stopped waiting for (our HTTP timeouts are 10 s), or a lookup could miss a message
    # still on its way and send it again; capped by SEND_GRACE. Where a lookup cannot help
    # (Telegram) nothing is resent anyway, so the send goes to review at the next tick and
    # the sender's slot is free at once (docs/reliability.md, "Settle windows").
    settle_after: float = 30.0
    # --- inbound: /webhooks/<key>/ --------------------------------------------------------
    webhooks: bool = False
    # The name of a setting: webhook bodies up to that many bytes are read (email, with
    # attachments); "" keeps Django's DATA_UPLOAD_MAX_MEMORY_SIZE.
    webhook_max_bytes: str = ""
    # A body the parser cannot read is kept quarantined for replay (a raw mail), instead of
    # refused with a 400 (signed JSON of the wrong shape).
    webhook_keeps_unreadable: bool = False
    # The platform reports a message its writer unsent, as an event of its own stored under
    # "deleted:<message id>": a message processed after its unsend is kept redacted.
    unsends: bool = False
    # Dotted path of a function: a deep-link /start token -> the contact id it names.
    start_tokens: str = ""
    # --- what a template may hold (campaigns/lint.py, outreach/media.py) ---------------------
    text_limit: int | None = None  # characters; None: no practical limit
    subject_limit: int | None = None  # only channels with a subject (email)
    link_length: int | None = None  # each link counts this many characters (X's t.co)
    link_rewrite: str = ""  # what happens to a link on its way (a lint warning)
    # None: attachments go as links or platform ids and are not size-checked (email, X).
    media: MediaLimits | None = None

    def message_length(self, text: str) -> int:
        """The length the platform counts."""
        if self.link_length is None:
            return len(text)
        return len(_URL.sub("x" * self.link_length, text))

    def contact_from_start_token(self, token: str) -> int | None:
        if not self.start_tokens or not token:
            return None
        decode: Callable[[str], int | None] = import_string(self.start_tokens)
        return decode(token)


_cache: dict[tuple[str, ...], dict[str, Channel]] = {}


def channels_load(paths: Iterable[str]) -> dict[str, Channel]:
    key = tuple(paths)
    if key not in _cache:
        found: dict[str, Channel] = {}
        for path in key:
            channel = import_string(path)
            if not isinstance(channel, Channel):
                raise TypeError(f"{path} is not an outreach.channels.registry.Channel")
            found[channel.key] = channel
        _cache[key] = found
    return _cache[key]


def channels() -> dict[str, Channel]:
    """Every configured channel by key, in the order of settings.CHANNELS."""
    from django.conf import settings

    return channels_load(settings.CHANNELS)


def channel_type(key: str) -> Channel:
    found = channels().get(key)
    if found is None:
        raise LookupError(f"Unknown channel {key!r} (settings.CHANNELS).")
    return found


def backend_conf(
    channel: Channel,
    *,
    secrets: Mapping[str, Mapping[str, Any]],
    platform: bool,
    base_url: str = "",
    override: str = "",
) -> dict[str, Any]:
    """The OUTREACH_CHANNELS entry of one channel: its real backend with PLATFORM_BACKENDS,
    else the console (or `override`, the CHANNEL_BACKEND setting) for an automated channel;
    the manual backend for a channel people send on by hand."""
    if not channel.automated:
        return {"BACKEND": MANUAL}
    if platform:
        options = dict(secrets.get(channel.secrets, {}))
        if base_url and channel.platform_api:
            options["base_url"] = base_url
        return {"BACKEND": channel.backend, "OPTIONS": options}
    return {"BACKEND": override or CONSOLE}
