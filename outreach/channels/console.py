import sys
import uuid
from typing import TextIO, cast

from outreach.channels.base import BaseChannel, OutgoingMessage


class ConsoleChannel(BaseChannel):
    """Prints messages instead of sending them (development)."""

    def send(self, message: OutgoingMessage) -> str:
        stream = cast(TextIO, self.options.get("stream", sys.stdout))  # options are untyped
        stream.write(
            f"--- {message.channel} message #{message.message_id} "
            f"from {message.sender_handle or '-'} to {message.recipient}\n"
        )
        if message.subject:
            stream.write(f"Subject: {message.subject}\n")
        stream.write(f"{message.body}\n---\n")
        stream.flush()
        return f"console-{uuid.uuid4()}"
