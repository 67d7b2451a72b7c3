"""News from campaigns for whoever listens (outgoing webhooks, notifications)."""

from django.dispatch import Signal

# Sent with deal=<Deal>, change=<DealStageChange>, inside the transaction that moved it.
deal_stage_changed = Signal()

# Sent with sent=[(<StepSend>, <Message>), ...] once steps' messages went out and their next
# steps are scheduled, inside the transaction that recorded the sends (entry triggers re-time
# them).
steps_sent = Signal()
