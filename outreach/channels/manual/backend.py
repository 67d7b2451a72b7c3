from outreach.channels.base import BaseChannel, OutgoingMessage


class ManualChannel(BaseChannel):
    """For platforms that forbid automated DMs: the engine creates a task for a rep instead."""

    automated = False

    def send(self, message: OutgoingMessage) -> str:
        raise NotImplementedError("manual channels are never sent by the engine")
