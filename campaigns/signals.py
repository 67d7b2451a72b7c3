"""Campaigns' optional fan-out (core/fanout.py): news for whoever listens (today the outgoing
webhooks), sent last by the code that made the change, inside its transaction.

Work that must happen with the change is called directly (campaigns/seams.py); these signals
are only for what may fail alone. fan_out() runs each receiver in its own savepoint: one
that raises is logged and rolled back by itself, and the reply, send or opt-out that sent
the signal commits all the same (the outer PostgreSQL transaction stays usable).
"""

from core.fanout import FanOut

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
