"""Pluggable channel backends, shaped like django.core.mail backends; the channels
themselves are in the registry (outreach/channels/registry.py)."""

from django.conf import settings
from django.utils.module_loading import import_string

from outreach.channels.base import BaseChannel


def get_channel(name: str) -> BaseChannel:
    conf = settings.OUTREACH_CHANNELS.get(name)
    if conf is None:
        # A channel added to settings.CHANNELS after OUTREACH_CHANNELS was built (a test's
        # override): the backend config/settings.py would have given it.
        from outreach.channels.registry import backend_conf, channels

        channel = channels().get(name)
        if channel is None:
            raise LookupError(f"No backend configured for channel {name!r} (OUTREACH_CHANNELS).")
        conf = backend_conf(
            channel,
            secrets=settings.CHANNEL_SECRETS,
            platform=settings.PLATFORM_BACKENDS,
            base_url=settings.PLATFORM_BASE_URL,
            override=settings.CHANNEL_BACKEND,
        )
    klass = import_string(conf["BACKEND"])
    return klass(channel=name, **conf.get("OPTIONS", {}))
