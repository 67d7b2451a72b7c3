"""The dispatcher's job written by hand in SQL, with no ORM: bench_dispatch's baseline.

It writes what campaigns.dispatch writes for the benchmark's campaign (one email step, one
template, no variants or alternative routes), into the same tables with the same constraints
and indexes, in the same batches of one transaction each: per due enrollment the claim, the
sticky sender, the conversation, the queued message, its first history event and the step
link with its template version. bench_dispatch checks that both leave the same rows.

Per batch: one `UPDATE … RETURNING` claim joined to each contact and its email identity, the
step rendered in Python (campaigns.rendering, as the dispatcher does), then one statement
whose CTEs write everything else from `unnest` arrays (parameters bound on the server). What
it leaves out is the dispatcher's generality (routes, variants, manual tasks, per-campaign
lookups), so it is as fast as this data model allows.
"""

import time
import uuid
from datetime import datetime

import psycopg
from django.db import connection, transaction

from campaigns.models import Campaign
from campaigns.rendering import render_message
from campaigns.versions import current_versions

CLAIM = """
WITH c AS (
    UPDATE campaigns_enrollment SET state = 'waiting', next_action_at = NULL, hold_reason = ''
    WHERE id IN (
        SELECT id FROM campaigns_enrollment
        WHERE state = 'active' AND next_action_at <= %s
        ORDER BY next_action_at, id LIMIT %s
        FOR UPDATE SKIP LOCKED)
    RETURNING id, contact_id)
SELECT c.id, c.contact_id, ct.first_name, ct.company, i.id
FROM c
JOIN contacts_contact ct ON ct.id = c.contact_id
JOIN LATERAL (
    SELECT id FROM contacts_identity
    WHERE contact_id = c.contact_id AND channel = 'email' ORDER BY id LIMIT 1) i ON true
ORDER BY c.id
"""

MATERIALIZE = """
WITH r AS (
    SELECT * FROM unnest(
        %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[],
        %s::uuid[])
    AS r(enrollment_id, identity_id, sender_id, subject, body, body_html, idem)
), new_conv AS (
    INSERT INTO outreach_conversation (
        identity_id, sender_id, comment_id, thread_owner, created_at)
    SELECT DISTINCT identity_id, sender_id, '', '', now() FROM r
    ON CONFLICT DO NOTHING
    RETURNING id, identity_id, sender_id
), conv AS (
    SELECT id, identity_id, sender_id FROM new_conv
    UNION ALL
    SELECT c.id, c.identity_id, c.sender_id FROM outreach_conversation c
    JOIN r USING (identity_id, sender_id)
), msg AS (
    INSERT INTO outreach_message (
        conversation_id, sender_id, channel, direction, status, subject, body, body_html,
        attachments, human_written, public_reply_to, hold_reason, attempts, idempotency_key,
        provider_message_id, error_code, error_reason, payload, edits, reactions, created_at)
    SELECT conv.id, r.sender_id, 'email', 'out', 'queued', r.subject, r.body, r.body_html,
        '[]'::jsonb, false, '', '', 0, r.idem, '', '', '', '{}'::jsonb, '[]'::jsonb,
        '[]'::jsonb, now()
    FROM r JOIN conv USING (identity_id, sender_id)
    RETURNING id, idempotency_key
), event AS (
    INSERT INTO outreach_messageevent (message_id, status, detail, at)
    SELECT id, 'queued', '', now() FROM msg
), sticky AS (
    UPDATE campaigns_enrollment e SET sender_id = r.sender_id
    FROM r WHERE e.id = r.enrollment_id AND e.sender_id IS NULL
)
INSERT INTO campaigns_stepsend (
    enrollment_id, step_id, message_id, route, template_version_id, created_at)
SELECT r.enrollment_id, %s, msg.id, 0, %s, now()
FROM r JOIN msg ON msg.idempotency_key = r.idem
"""


def materialize_by_hand(camp: Campaign, *, now: datetime, batch: int) -> tuple[int, float]:
    """Claim and materialize every due enrollment; returns the count and the seconds."""
    step = camp.sequence.steps.select_related("template").get()
    senders = list(camp.senders.order_by("id").values_list("id", flat=True))
    version = current_versions([step.template])[step.template.id]
    connection.ensure_connection()
    made = 0
    started = time.perf_counter()
    while True:
        with transaction.atomic():
            # psycopg's server-side binding: the arrays go as parameters, not quoted text.
            cur = psycopg.Cursor(connection.connection)
            cur.execute(CLAIM, [now, batch])
            rows = cur.fetchall()
            if not rows:
                break
            columns: list[list] = [[] for _ in range(7)]
            for eid, contact_id, first_name, company, identity_id in rows:
                rendered = render_message(
                    subject=step.template.subject,
                    body=step.template.body,
                    channel="email",
                    context={"first_name": first_name, "company": company},
                    seed=f"{contact_id}:{step.id}",
                )
                values = (
                    eid,
                    identity_id,
                    senders[contact_id % len(senders)],
                    rendered.subject,
                    rendered.text,
                    rendered.html,
                    uuid.uuid4(),
                )
                for column, value in zip(columns, values, strict=True):
                    column.append(value)
            cur.execute(MATERIALIZE, [*columns, step.id, version.id])
            made += len(rows)
    return made, time.perf_counter() - started
