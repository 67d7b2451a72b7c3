"""Platforms that forbid automated DMs, and phone calls: a step on them is a task for a rep
(docs/channels.md#manual-channels-linkedin-tiktok-snapchat-phone-calls)."""

from outreach.channels.registry import Channel

LINKEDIN = Channel(key="linkedin", label="LinkedIn", automated=False, delivery_receipts=False)
TIKTOK = Channel(key="tiktok", label="TikTok", automated=False, delivery_receipts=False)
SNAPCHAT = Channel(key="snapchat", label="Snapchat", automated=False, delivery_receipts=False)
# A call to the contact's phone number (the identity contacts already keep under "phone"):
# the task queue offers a tel: link and the text as the call's talking points.
CALL = Channel(key="phone", label="Phone call", automated=False, delivery_receipts=False)
