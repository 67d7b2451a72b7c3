"""News from campaigns for whoever listens (outgoing webhooks, notifications)."""

from django.dispatch import Signal

# Sent with deal=<Deal>, change=<DealStageChange>, inside the transaction that moved it.
deal_stage_changed = Signal()

# Sent with link=<StepSend> and message=<Message> once a step's message went out and the next
# step is scheduled, inside the transaction that recorded the send (entry triggers re-time it).
step_sent = Signal()
