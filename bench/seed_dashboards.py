"""Fill a PostgreSQL database with dashboard-sized data fast: the small rows (users, senders,
sequences of 3 steps, campaigns, a pipeline) through the ORM, the big ones (contacts,
identities, conversations, enrollments, messages, step links, reply intents, deals) with
INSERT … SELECT generate_series, one statement per table, then VACUUM ANALYZE, then the
dashboards' counters are rebuilt from those rows (campaigns/counters.py).

Shapes, decided per enrollment from its number so a run is repeatable:
- campaigns are skewed (the first ones are the biggest), 3 senders each, owners round-robin;
- enrollment states: 8% replied, 4% active, 2% waiting (last message held), 1% failed
  (bounced), 1% stopped (last message cancelled or the contact opted out), 1% paused, the rest
  completed; 1-3 outbound messages each, sent/delivered/read, spread over the last 90 days;
- inbound replies fill the message count up to --messages, on replied enrollments' threads;
  the first reply of each is labelled (40% interested), interested ones get a deal
  (open/won/lost).

Used by bench/bench_dashboards.py: seed(enrollments=1_000_000, messages=3_000_000, campaigns=200)
"""

import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from campaigns.counters import counters_rebuild
from campaigns.models import (
    Campaign,
    CampaignDayStats,
    CampaignIntentStats,
    Sequence,
    Step,
    Template,
    TemplateVariant,
)
from outreach.models import SenderAccount
from pipelines.models import Pipeline, Stage

SENDERS = 20
OWNERS = 5
# A pseudo-random number in [0, 1) from the enrollment number i (no random(): repeatable).
H = "((({i} * 2654435761) %% 1000003) / 1000003.0)"

ENROLLMENT_PLAN = f"""
CREATE TEMP TABLE seed_e AS
SELECT i,
       k,
       (%(campaigns)s::bigint[])[k + 1] AS campaign_id,
       (%(senders)s::bigint[])[((k * 3 + i %% 3) %% %(n_senders)s + 1)::int] AS sender_id,
       CASE WHEN r < 8 THEN 'replied' WHEN r < 12 THEN 'active' WHEN r < 14 THEN 'waiting'
            WHEN r < 15 THEN 'failed' WHEN r < 16 THEN 'stopped' WHEN r < 17 THEN 'paused'
            ELSE 'completed' END AS state,
       CASE WHEN r < 8 THEN 1 + i %% 3 WHEN r < 12 THEN 1 + i %% 2 WHEN r < 16 THEN 1 + i %% 3
            WHEN r < 17 THEN 1 + i %% 2 ELSE 3 END AS steps,
       %(now)s::timestamptz - interval '1 day' * (8 + 80 * ((i * 48271) %% 1000) / 1000.0)
           AS enrolled_at
FROM (
    SELECT i, (i * 7919 + 13) %% 100 AS r,
           least(floor(%(n_campaigns)s * {H.format(i="i")} ^ 2)::int, %(n_campaigns)s - 1) AS k
    FROM generate_series(0::bigint, %(n)s - 1) AS i
) s
"""

# One outbound message per (enrollment, step sent); the last one of a waiting / failed /
# stopped enrollment is held, bounced or cancelled.
OUTBOUND_PLAN = """
CREATE TEMP TABLE seed_o AS
SELECT e.i, s AS position, e.sender_id, e.campaign_id, e.state,
       CASE
         WHEN s = e.steps AND e.state = 'waiting' THEN
           CASE WHEN e.i %% 5 = 0 THEN 'paused' ELSE 'queued' END
         WHEN s = e.steps AND e.state = 'failed' THEN 'failed'
         WHEN s = e.steps AND e.state = 'stopped' AND e.i %% 2 = 0 THEN 'cancelled'
         WHEN (e.i + s) %% 20 < 2 THEN 'sent'
         WHEN (e.i + s) %% 20 < 14 THEN 'delivered'
         ELSE 'read' END AS status,
       e.enrolled_at + interval '3 days' * (s - 1) + interval '1 minute' * (e.i %% 600) AS at
FROM seed_e e, generate_series(1, 3) AS s
WHERE s <= e.steps
"""


def seed(enrollments: int, messages: int | None = None, campaigns: int = 200) -> None:
    """Seed the default (PostgreSQL) database; progress lines go to stdout."""
    if connection.vendor != "postgresql":
        raise SystemExit("seeding the dashboards needs PostgreSQL (DATABASE_URL=postgres://…)")
    n, n_campaigns = enrollments, campaigns
    total_messages = messages if messages is not None else 3 * n
    started = time.monotonic()
    now = timezone.now()
    with transaction.atomic():
        small = small_rows(n_campaigns, now)
    params = {
        "n": n,
        "now": now,
        "n_campaigns": n_campaigns,
        "campaigns": small["campaigns"],
        "senders": small["senders"],
        "n_senders": len(small["senders"]),
    }
    with transaction.atomic(), connection.cursor() as cur:
        skip_foreign_key_checks(cur)
        params |= offsets(cur)
        step(cur, "plan", ENROLLMENT_PLAN, params)
        step(cur, "plan outbound", OUTBOUND_PLAN, params)
        big_rows(cur, params, small, total_messages)
    with connection.cursor() as cur:
        for table in (
            "contacts_contact",
            "contacts_identity",
            "outreach_conversation",
            "outreach_message",
            "outreach_messageintent",
            "campaigns_enrollment",
            "campaigns_stepsend",
            "campaigns_deal",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")
    # The rows above bypass the services that keep the dashboards' counters: count once.
    t = time.monotonic()
    rows = counters_rebuild()
    with connection.cursor() as cur:
        for model in (CampaignDayStats, CampaignIntentStats):
            cur.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    print(f"  dashboard counters: {rows:,} rows in {time.monotonic() - t:.1f} s", flush=True)
    print(f"seeded in {time.monotonic() - started:.1f} s", flush=True)


def skip_foreign_key_checks(cur) -> None:
    """Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, so every seeded row's checks
    would run at COMMIT: at 10 M messages that COMMIT alone ran for over 9 minutes. The seed
    computes every id it refers to, so this transaction turns the checks off (the `replica`
    role fires no foreign-key triggers; it needs a superuser, which the throw-away benchmark
    database is made by). Without the right, the checks run at COMMIT as before."""
    try:
        with transaction.atomic():
            cur.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError as error:
        print(f"  foreign keys checked at commit ({error.__class__.__name__})", flush=True)


def step(cur, label: str, sql: str, params: dict) -> int:
    t = time.monotonic()
    cur.execute(sql, params)
    print(f"  {label}: {cur.rowcount:,} rows in {time.monotonic() - t:.1f} s", flush=True)
    return cur.rowcount


def offsets(cur) -> dict:
    """Explicit ids above whatever the tables hold, so ids can be computed, not looked up."""
    tables = {
        "c0": "contacts_contact",
        "d0": "contacts_identity",
        "v0": "outreach_conversation",
        "e0": "campaigns_enrollment",
        "m0": "outreach_message",
        "s0": "campaigns_stepsend",
        "x0": "outreach_messageintent",
        "g0": "campaigns_deal",
    }
    out = {}
    for key, table in tables.items():
        cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        out[key] = cur.fetchone()[0]
    return out


def small_rows(n_campaigns: int, now) -> dict:
    User = get_user_model()
    staff, _ = User.objects.get_or_create(
        username="bench-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    owners = [
        User.objects.get_or_create(username=f"bench-owner-{i}", defaults={"is_staff": True})[0]
        for i in range(OWNERS)
    ]
    senders = SenderAccount.objects.bulk_create(
        [
            SenderAccount(
                channel="email",
                name=f"Seed sender {i}",
                handle=f"seed{i}@bench.example.com",
                daily_cap=200,
                sent_today=(i * 37) % 200,
                counter_day=timezone.localdate(now),
                paused=i % 10 == 9,
                paused_reason="bounce rate over 5%" if i % 10 == 9 else "",
                last_error="smtp 421 try later" if i % 7 == 0 else "",
            )
            for i in range(SENDERS)
        ]
    )
    pipeline, _ = Pipeline.objects.get_or_create(name="Seed sales")
    stages = {}
    for position, (name, kind) in enumerate(
        [("Talking", "open"), ("Won", "won"), ("Lost", "lost")], start=1
    ):
        stages[kind], _ = Stage.objects.get_or_create(
            pipeline=pipeline, name=name, defaults={"position": position, "kind": kind}
        )
    campaigns = []
    for k in range(n_campaigns):
        seq = Sequence.objects.create(name=f"Seed sequence {k}")
        for position in (1, 2, 3):
            template = Template.objects.create(
                name=f"Seed {k} step {position}",
                channel="email",
                subject="Quick question, {{ first_name }}",
                body="Hi {{ first_name }}, saw {{ company }} is hiring. Worth a chat?",
            )
            if position == 1:
                TemplateVariant.objects.bulk_create(
                    [
                        TemplateVariant(template=template, label=label, body=f"Variant {label}")
                        for label in ("A", "B")
                    ]
                )
            Step.objects.create(
                sequence=seq,
                position=position,
                channel="email",
                template=template,
                delay=timedelta(days=3 * (position - 1)),
            )
        camp = Campaign.objects.create(
            name=f"Seed campaign {k}",
            sequence=seq,
            status=("running", "running", "paused", "finished")[k % 4],
            owner=owners[k % OWNERS],
            launched_at=now - timedelta(days=90),
        )
        camp.senders.add(*(senders[(k * 3 + j) % SENDERS] for j in range(3)))
        campaigns.append(camp)
    return {
        "staff": staff,
        "campaigns": [c.id for c in campaigns],
        "senders": [s.id for s in senders],
        "pipeline": pipeline.id,
        "stages": stages,
    }


def big_rows(cur, params: dict, small: dict, total_messages: int) -> None:
    p = params
    step(
        cur,
        "contacts",
        """
        INSERT INTO contacts_contact (id, first_name, last_name, company, title, time_zone,
            country, locale, custom_fields, opted_out_at, created_at, updated_at)
        SELECT %(c0)s + i + 1, 'Lead' || i, 'Seed', 'Company ' || (i %% 997), 'Head of Sales',
               'Europe/Berlin', 'DE', '', '{}'::jsonb,
               CASE WHEN state = 'stopped' AND i %% 2 = 1 THEN %(now)s END,
               enrolled_at - interval '1 day', enrolled_at - interval '1 day'
        FROM seed_e
        """,
        p,
    )
    step(
        cur,
        "identities",
        """
        INSERT INTO contacts_identity (id, contact_id, channel, value, platform_user_id,
            consent_source, opt_out_source, created_at)
        SELECT %(d0)s + i + 1, %(c0)s + i + 1, 'email',
               'lead' || (%(c0)s + i + 1) || '@seed.example.com', '', 'import', '',
               enrolled_at - interval '1 day'
        FROM seed_e
        """,
        p,
    )
    step(
        cur,
        "conversations",
        """
        INSERT INTO outreach_conversation (id, identity_id, sender_id, created_at, comment_id,
            thread_owner)
        SELECT %(v0)s + i + 1, %(d0)s + i + 1, sender_id, enrolled_at, '', '' FROM seed_e
        """,
        p,
    )
    step(
        cur,
        "enrollments",
        """
        INSERT INTO campaigns_enrollment (id, campaign_id, contact_id, sender_id, state,
            current_step, next_action_at, hold_reason, replied_at, created_at, updated_at)
        SELECT %(e0)s + i + 1, campaign_id, %(c0)s + i + 1, sender_id, state,
               CASE WHEN state IN ('active', 'paused') THEN steps + 1 ELSE steps END,
               CASE WHEN state = 'active' THEN %(now)s + interval '1 hour' * (i %% 72) END,
               CASE state WHEN 'failed' THEN 'bounce: mailbox does not exist'
                          WHEN 'paused' THEN 'paused by a user' ELSE '' END,
               CASE WHEN state = 'replied'
                    THEN enrolled_at + interval '3 days' * (steps - 1) + interval '1 day' END,
               enrolled_at, enrolled_at
        FROM seed_e
        """,
        p,
    )
    outbound = step(
        cur,
        "outbound messages",
        """
        INSERT INTO outreach_message (id, conversation_id, sender_id, channel, direction,
            status, subject, body, attachments, human_written, hold_reason, not_before,
            enqueued_at, claimed_at, sent_at, attempts, idempotency_key, provider_message_id,
            error_code, error_reason, created_at, public_reply_to, payload, edits, reactions,
            body_html, campaign_id)
        SELECT %(m0)s + 3 * i + position, %(v0)s + i + 1, sender_id, 'email', 'out', status,
               'Quick question, Lead' || i, 'Hi Lead' || i || ', saw your team is hiring.',
               '[]'::jsonb, false,
               CASE WHEN status = 'paused' THEN 'sender paused: bounce rate over 5%%'
                    WHEN status = 'queued' AND i %% 3 = 0 THEN 'outside the sending window'
                    ELSE '' END,
               CASE WHEN status IN ('queued', 'paused') THEN %(now)s + interval '1 minute'
                    * (i %% 1440) END,
               CASE WHEN status <> 'cancelled' THEN at END,
               CASE WHEN status NOT IN ('queued', 'paused', 'cancelled') THEN at END,
               CASE WHEN status NOT IN ('queued', 'paused', 'cancelled') THEN at END,
               CASE WHEN status NOT IN ('queued', 'paused', 'cancelled') THEN 1 ELSE 0 END,
               gen_random_uuid(),
               CASE WHEN status NOT IN ('queued', 'paused', 'cancelled')
                    THEN 'seed-' || (%(m0)s + 3 * i + position) ELSE '' END,
               CASE WHEN status = 'failed' THEN 'bounce_hard' ELSE '' END,
               CASE WHEN status = 'failed' THEN '550 mailbox does not exist' ELSE '' END,
               at, '', '{}'::jsonb, '[]'::jsonb, '[]'::jsonb, '', campaign_id
        FROM seed_o
        """,
        p,
    )
    step(
        cur,
        "step links",
        """
        INSERT INTO campaigns_stepsend (id, enrollment_id, step_id, message_id, variant_id,
            route, created_at)
        SELECT %(s0)s + 3 * o.i + o.position, %(e0)s + o.i + 1, st.id,
               %(m0)s + 3 * o.i + o.position,
               CASE WHEN o.position = 1 THEN (
                   SELECT v.id FROM campaigns_templatevariant v
                   WHERE v.template_id = st.template_id ORDER BY v.label
                   OFFSET o.i %% 2 LIMIT 1) END,
               0, o.at
        FROM seed_o o
        JOIN campaigns_campaign c ON c.id = o.campaign_id
        JOIN campaigns_step st ON st.sequence_id = c.sequence_id AND st.position = o.position
        """,
        p,
    )
    cur.execute(
        "CREATE TEMP TABLE seed_r AS SELECT row_number() OVER (ORDER BY i) - 1 AS rn, i, "
        "sender_id, enrolled_at + interval '3 days' * (steps - 1) + interval '1 day' AS at "
        "FROM seed_e WHERE state = 'replied'"
    )
    replied = cur.rowcount
    inbound = max(total_messages - outbound, replied) if replied else 0
    p |= {"inbound": inbound, "replied": max(replied, 1)}
    step(
        cur,
        "inbound replies",
        """
        INSERT INTO outreach_message (id, conversation_id, sender_id, channel, direction,
            status, subject, body, attachments, human_written, hold_reason, sent_at,
            attempts, idempotency_key, provider_message_id, error_code, error_reason,
            created_at, public_reply_to, payload, edits, reactions, body_html)
        SELECT %(m0)s + 3 * %(n)s + j + 1, %(v0)s + r.i + 1, r.sender_id, 'email', 'in',
               'received', 'Re: Quick question', 'Thanks, tell me more.', '[]'::jsonb, false,
               '', r.at + interval '1 hour' * (j / %(replied)s), 0, gen_random_uuid(),
               'seed-in-' || j, '', '', r.at + interval '1 hour' * (j / %(replied)s),
               '', '{}'::jsonb, '[]'::jsonb, '[]'::jsonb, ''
        FROM generate_series(0, %(inbound)s - 1) AS j
        JOIN seed_r r ON r.rn = j %% %(replied)s
        """,
        p,
    )
    step(
        cur,
        "reply intents",
        """
        INSERT INTO outreach_messageintent (id, message_id, label, rule, classifier,
            corrected_label, corrected_at, created_at)
        SELECT %(x0)s + j + 1, %(m0)s + 3 * %(n)s + j + 1,
               CASE WHEN j >= %(replied)s THEN 'other'
                    ELSE (ARRAY['interested', 'interested', 'interested', 'interested',
                                'not_now', 'not_interested', 'out_of_office', 'wrong_person',
                                'unsubscribe', 'other'])[j %% 10 + 1] END,
               'seed', 'seed', CASE WHEN j < %(replied)s AND j %% 25 = 9 THEN 'interested'
                                    ELSE '' END,
               NULL, %(now)s
        FROM generate_series(0, %(inbound)s - 1) AS j
        """,
        p,
    )
    p |= {k: s.id for k, s in small["stages"].items()} | {"pipeline": small["pipeline"]}
    step(
        cur,
        "deals",
        """
        INSERT INTO campaigns_deal (id, contact_id, pipeline_id, stage_id, campaign_id,
            value, created_at, updated_at)
        SELECT %(g0)s + r.rn + 1, %(c0)s + r.i + 1, %(pipeline)s,
               (ARRAY[%(open)s, %(won)s, %(lost)s]::bigint[])[(r.rn %% 3 + 1)::int],
               e.campaign_id,
               1000 + (r.rn %% 50) * 100, r.at, r.at
        FROM seed_r r JOIN seed_e e ON e.i = r.i
        WHERE r.rn %% 10 < 4
        """,
        p,
    )
    for table in (
        "contacts_contact",
        "contacts_identity",
        "outreach_conversation",
        "campaigns_enrollment",
        "outreach_message",
        "campaigns_stepsend",
        "outreach_messageintent",
        "campaigns_deal",
    ):
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
    cur.execute("DROP TABLE seed_e, seed_o, seed_r")
