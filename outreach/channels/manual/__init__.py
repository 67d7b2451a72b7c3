"""Platforms that forbid automated DMs: a step on them is a task for a rep
(docs/channels.md#manual-channels-linkedin-tiktok-snapchat)."""

from outreach.channels.registry import Channel

LINKEDIN = Channel(key="linkedin", label="LinkedIn", automated=False, delivery_receipts=False)
TIKTOK = Channel(key="tiktok", label="TikTok", automated=False, delivery_receipts=False)
SNAPCHAT = Channel(key="snapchat", label="Snapchat", automated=False, delivery_receipts=False)
