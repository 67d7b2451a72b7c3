from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class IncomingReply:
    """What a classifier may look at: no ORM objects, so a model-based one can run anywhere."""

    body: str
    subject: str = ""
    channel: str = ""
    # What the transport already knew: "reply", "opt_out", "auto_reply" (email headers such
    # as Auto-Submitted) or "bounce" (a delivery status notification).
    kind: str = "reply"
    # When it arrived: a return date "until 12 May" is read relative to it.
    received_on: date | None = None


@dataclass(frozen=True)
class Intent:
    label: str
    return_date: date | None = None
    rule: str = ""


class Classifier:
    """Subclasses override classify(). Labels are MessageIntent.Label values."""

    def classify(self, reply: IncomingReply) -> Intent:
        raise NotImplementedError
