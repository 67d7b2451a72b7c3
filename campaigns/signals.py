"""News from campaigns for whoever listens (outgoing webhooks, notifications)."""

from django.dispatch import Signal

# Sent with deal=<Deal>, change=<DealStageChange>, inside the transaction that moved it.
deal_stage_changed = Signal()
