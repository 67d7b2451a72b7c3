"""Optional fan-out: news for whoever listens (today the outgoing webhooks), sent last by the
code that made the change, inside its transaction.

Work that must happen with the change is called directly (campaigns/seams.py); these signals
are only for what may fail alone. fan_out() runs each receiver in its own savepoint: one
that raises is logged and rolled back by itself, and the reply, send or opt-out that sent
the signal commits all the same (the outer PostgreSQL transaction stays usable).
"""

import logging

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)


class FanOut(Signal):
    """A signal sent with fan_out(): every receiver is tried, each inside its own savepoint.

    Receivers are synchronous (Django would run async ones outside the transaction)."""

    def fan_out(self, sender, **named) -> None:
        if not self.receivers:
            return
        sync_receivers, _ = self._live_receivers(sender)
        for receiver in sync_receivers:
            try:
                with transaction.atomic():
                    receiver(signal=self, sender=sender, **named)
            except Exception:
                log.exception("fan-out receiver %s failed", receiver.__qualname__)


# Sent with message=<inbound Message> by CampaignEvents.reply_recorded for a reply (not an
# opt-out, auto-reply or bounce). Receivers: campaigns.webhook_receivers.on_reply
# (reply.received webhook).
reply_received = FanOut()

# Sent with message=<inbound Message>, intent=<label> by CampaignEvents.reply_recorded (every
# inbound message is labelled) and CampaignEvents.intent_corrected (a rep's correction).
# Receivers: campaigns.webhook_receivers.on_intent (reply.intent_labelled webhook).
reply_labelled = FanOut()

# Sent with message=<outbound Message> (its error_code and error_reason set) by
# CampaignEvents.message_failed. Receivers: campaigns.webhook_receivers.on_failed
# (message.failed webhook).
message_failed = FanOut()

# Sent with contact=<Contact>, channel=<"" for every channel>, source=<what asked> by
# CampaignContactEvents.contact_opted_out. Receivers: campaigns.webhook_receivers.on_opt_out
# (contact.opted_out webhook).
contact_opted_out = FanOut()

# Sent with deal=<Deal>, change=<DealStageChange> wherever a deal gets a stage: opened
# (campaigns.pipelines.deal_for_contact, the API's create), moved (campaigns.pipelines.
# deal_move, the API's update). Receivers: campaigns.webhook_receivers.on_deal_stage
# (deal.stage_changed webhook).
deal_stage_changed = FanOut()
