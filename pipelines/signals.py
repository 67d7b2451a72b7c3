"""What pipelines tells whoever listens (core/fanout.py: each receiver in its own savepoint)."""

from core.fanout import FanOut

# Sent with deal=<Deal>, change=<DealStageChange> wherever a deal gets a stage: opened
# (pipelines.services.deal_for_contact, deal_apply_events, deal_opened, pipelines.contacted),
# moved (pipelines.services.deal_move, deal_apply_events: one per move, in order, after all
# are written; deal_stage_recorded, deals_move_stage: one per deal).
# Receivers: campaigns.webhook_receivers.on_deal_stage (deal.stage_changed webhook).
deal_stage_changed = FanOut()
