import uuid

from outreach.channels.base import BaseChannel, OutgoingMessage

# Like django.core.mail.outbox: what was "sent" in this process, for tests.
outbox: list[OutgoingMessage] = []


class LocmemChannel(BaseChannel):
    def send(self, message: OutgoingMessage) -> str:
        outbox.append(message)
        return f"locmem-{uuid.uuid4()}"
