"""Pluggable channel backends, shaped like django.core.mail backends."""

from django.conf import settings
from django.utils.module_loading import import_string

from outreach.channels.base import BaseChannel


def get_channel(name: str) -> BaseChannel:
    conf = settings.OUTREACH_CHANNELS.get(name)
    if conf is None:
        raise LookupError(f"No backend configured for channel {name!r} (OUTREACH_CHANNELS).")
    klass = import_string(conf["BACKEND"])
    return klass(channel=name, **conf.get("OPTIONS", {}))
