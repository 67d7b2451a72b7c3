"""Dashboard reads: a fixed number of small queries, whatever the number of campaigns,
steps, variants, senders or messages, each returning a small dataclass the templates render
directly. The counts come from the exact counter tables (campaigns/counters.py keeps them in
step with every change, in the same transaction); only what must be live is read live: the
held messages, the senders' health, won deals (a small table) and the audit trail.

Definitions used everywhere (and in the tests):
- sent: an outbound campaign message that left (it has sent_at), bounced ones included;
- delivered: the platform confirmed delivery or a read;
- contacted: an enrollment with at least one sent message;
- replied: an enrollment stopped by a reply, or whose ended sequence (completed, failed) a
  reply answered (campaigns/services.py ANSWERABLE); once per enrollment; a reply belongs
  to the step message it quotes (an email's In-Reply-To, a quoted DM, a pressed button),
  else to the last step sent before it;
- bounced: a sent message that failed with a bounce; opted out: the contact opted out;
- won: a deal from the campaign in a "won" stage;
- interested / positive: an enrollment whose contact replied, after enrolling, with a reply
  labelled interested (outreach's MessageIntent; a rep's correction wins). Without intent
  labels installed the figure is None and shown as "n/a", never guessed.
Days are local days in TIME_ZONE, fixed when the counters are written (rebuild the counters
after changing TIME_ZONE: `manage.py rebuild_dashboard_stats`).
"""
