"""The one way news travels up from outreach to campaigns (which outreach never imports).

They are sent inside the transaction that recorded the change, so receivers' writes commit
or roll back with it.
"""

from collections.abc import Callable

from django.dispatch import Signal

# Sent with messages=[<Message>, ...]: outbound messages that went out, recorded together
# (a send task records its batch in one transaction).
messages_sent = Signal()

# Sent with message=<Message>, status=<new status>: an outbound message failed, was
# cancelled before sending, or came back to "queued" after an in-flight attempt proved
# undelivered (receivers may then hold or cancel it). Sends are told by messages_sent.
message_status_changed = Signal()
# A FAILED message that had been sent also comes with previous=<its status before>.
# A FAILED message the platform refused at the send by its messaging rules (outside its
# window, a bot the person never started) comes with refused=True: nothing arrived, so
# whoever queued it may send it elsewhere, as after a refusal by the policy gate.
# A sent message that soft-bounced and is queued to be sent again (outreach.suppress) comes
# with status="queued", previous=<its status before> and sent_at=<when it had gone out>:
# that send no longer counts, the next one will.

# Sent with message_ids=[...]: outbound messages that went from "sent" to delivered or read
# (a delivery or read receipt), inside the transaction that recorded it.
messages_delivered = Signal()

# Callables (message) -> bool the policy gate asks when a platform refuses a queued message
# for now (e.g. WhatsApp outside its 24 h window): True means whoever queued it has somewhere
# else to send it, so the message fails at once with the platform's reason (and
# message_status_changed says so) instead of waiting until the platform allows it.
# campaigns registers one: a step may re-route to its next channel alternative.
refusal_fallbacks: list[Callable[..., bool]] = []

# Sent with message=<inbound Message>, kind="reply" | "opt_out" | "auto_reply" | "bounce".
# replies_to=<our outbound Message it answers, or None> when the platform links the two
# (email In-Reply-To/References; refers_to of other channels).
message_received = Signal()

# Sent with message=<inbound Message>, intent=<label, e.g. "interested">, return_date=<date
# or None>, kind=<as message_received>, corrected=<bool>: a reply was labelled by the intent
# classifier (outreach/intent/) or a rep corrected its label.
# A correction also comes with previous=<the label it had before>, by=<the rep> and
# confirmed=<bool>: True once the rep confirmed what the label does (inbox.hooks.
# intent_consequences), e.g. an opt-out, which receivers must not do unconfirmed.
message_intent_labelled = Signal()

# Sent with engagement=<outreach.engagement.Engagement>: a person engaged first (a DM, a
# comment, a story reply or mention, an ad click, a deep-link /start). Entry triggers
# (campaigns/triggers/) turn it into a lead. Sent inside the inbound event's transaction.
engagement_received = Signal()
