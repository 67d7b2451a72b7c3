"""Template rendering for 100,000 contacts (ours vs Django templates, Jinja2's sandbox and
str.format_map, each rendering the same text for the same contexts in this run) and the
pre-launch lint of a 100,000-contact campaign in a throw-away database, against a fixed
target (5 s). BENCH_TEMPLATES_N shrinks the run (default 100,000)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from bench.common import Row, Target, size

N = size("BENCH_TEMPLATES_N", 100_000, 1_000)

# About 400 characters: 6 variables, a fallback, a conditional and a spintax block.
OURS = (
    '{Hi|Hello|Hey} {{ first_name|default:"there" }},\n\n'
    "I noticed {{ company }} is hiring for a {{ title }} role, and I wanted to reach out "
    "because we help teams like yours cut onboarding time in half without adding headcount. "
    "{% if handle %}I also saw your posts as @{{ handle }} and liked them.{% endif %}\n\n"
    "Would a short call next week work? I am flexible around {{ time_zone }} hours.\n\n"
    "Best,\n{{ sender_name }}"
)
DJANGO = OURS.replace("{Hi|Hello|Hey}", "Hi")
JINJA = DJANGO.replace('|default:"there"', '|default("there", true)')


def _format_map_floor(values: dict) -> str:
    # The floor: the same text with default and conditional done in plain Python.
    return FORMAT.format_map(
        {
            **values,
            "first_name": values["first_name"] or "there",
            "handle_line": f"I also saw your posts as @{values['handle']} and liked them."
            if values["handle"]
            else "",
        }
    )


FORMAT = (
    "Hi {first_name},\n\nI noticed {company} is hiring for a {title} role, and I wanted to reach "
    "out because we help teams like yours cut onboarding time in half without adding headcount. "
    "{handle_line}\n\nWould a short call next week work? I am flexible around {time_zone} "
    "hours.\n\nBest,\n{sender_name}"
)


def _contexts(n: int) -> list[dict[str, str]]:
    from campaigns.rendering import context_from_values

    return [
        context_from_values(
            {
                "first_name": "" if i % 3 == 0 else f"Ana{i}",
                "company": f"Company {i}",
                "title": "Head of Growth",
                "time_zone": "Europe/Berlin",
            },
            handle=f"ana_{i}" if i % 2 else "",
            sender_name="Sam",
        )
        for i in range(n)
    ]


def _rate(fn: Callable[[dict, int], str], contexts: list[dict]) -> float:
    started = time.perf_counter()
    out = [fn(c, i) for i, c in enumerate(contexts)]
    elapsed = time.perf_counter() - started
    assert len(out) == len(contexts)
    return len(contexts) / elapsed / 1000  # thousand renders per second


def _render_rows(contexts: list[dict]) -> Iterator[Row]:
    import jinja2.sandbox
    from django.template import Context, Engine

    from campaigns.rendering import compile_template

    ours = compile_template(OURS)
    django_t = Engine(autoescape=False).from_string(DJANGO)
    jinja_t = jinja2.sandbox.SandboxedEnvironment(autoescape=False).from_string(JINJA)
    # Same output shape checked once, so the engines render equivalent text.
    sample = contexts[1]
    assert (
        django_t.render(Context(sample)).split(",", 1)[1] == jinja_t.render(sample).split(",", 1)[1]
    )

    rates = {
        "ours": _rate(lambda c, i: ours.render(c, f"{i}:1"), contexts),
        "django": _rate(lambda c, i: django_t.render(Context(c)), contexts),
        "jinja2": _rate(lambda c, i: jinja_t.render(c), contexts),
        "format_map": _rate(lambda c, i: _format_map_floor(c), contexts),
    }
    label = f"render {len(contexts) // 1000}k"
    yield Row(f"{label}: ours vs Django templates", rates["ours"], rates["django"], "k/s", 1.0)
    yield Row(f"{label}: ours vs Jinja2 sandbox", rates["ours"], rates["jinja2"], "k/s", 1.0)
    yield Row(f"{label}: ours vs str.format_map (floor)", rates["ours"], rates["format_map"], "k/s")


def _lint_row(n: int) -> Target:
    from bench.db import bench_database
    from campaigns import lint
    from campaigns.models import Campaign, Enrollment, Sequence, Step, Template
    from contacts.models import Contact, Identity
    from outreach.models import SenderAccount

    with bench_database():  # dropped afterwards: the benchmark leaves no rows behind
        tpl = Template.objects.create(name="bench", channel="email", subject="{Hi|Hey}", body=OURS)
        seq = Sequence.objects.create(name="bench")
        Step.objects.create(sequence=seq, position=1, channel="email", template=tpl)
        campaign = Campaign.objects.create(name="bench", sequence=seq)
        campaign.senders.add(SenderAccount.objects.create(channel="email", name="Sam"))
        contacts = Contact.objects.bulk_create(
            [
                Contact(
                    first_name="" if i % 3 == 0 else f"Ana{i}",
                    company=f"Company {i}",
                    title="Head of Growth",
                    time_zone="Europe/Berlin",
                    custom_fields={"industry": "SaaS"},
                )
                for i in range(n)
            ],
            batch_size=5000,
        )
        Identity.objects.bulk_create(
            [
                Identity(contact=c, channel="email", value=f"bench-{c.id}@example.com")
                for c in contacts
            ],
            batch_size=5000,
        )
        Enrollment.objects.bulk_create(
            [Enrollment(campaign=campaign, contact=c) for c in contacts], batch_size=5000
        )
        started = time.perf_counter()
        report = lint.campaign_lint(campaign=campaign)
        elapsed = time.perf_counter() - started
        assert report.contacts_checked == n, report.contacts_checked
    # A fixed target, nothing measured to compare with: 100,000 contacts in 5 s (20k/s).
    return Target(
        f"lint {n // 1000}k-contact campaign (contacts/s)",
        n / elapsed / 1000,
        20.0,
        "k/s",
        "higher",
    )


def run() -> Iterator[Row | Target]:
    yield from _render_rows(_contexts(N))
    yield _lint_row(N)
