"""Checking templates before a campaign launches: errors block the launch, warnings need a
rep's confirmation.

The per-contact part renders every step for every live enrollment with the same functions
the dispatcher uses (variant choice, sender choice, spintax seed), so "47 contacts get an
empty {{ company }}" is a count, not a guess. 100,000 contacts take about 2 s on PostgreSQL
(bench/bench_templates.py).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.utils.translation import ngettext

from campaigns.held import campaign_steps_held
from campaigns.lint_platform import us_marketing_counts
from campaigns.models import Campaign, Enrollment, Step, TemplateVariant
from campaigns.rendering import (
    MAX_OUTPUT,
    Compiled,
    TemplateError,
    compile_template,
    context_from_values,
    plain_text,
)
from campaigns.routes import Route, routes_for_steps
from campaigns.triggers.models import Trigger
from campaigns.variants import variant_pick, variants_for_templates
from contacts.models import Identity
from deliverability.services import senders_domain_problems
from outreach import policy
from outreach.channels.registry import Channel, channels

_URL = re.compile(r"https?://[^\s<>\"']+")
LIVE = [Enrollment.State.ACTIVE, Enrollment.State.WAITING, Enrollment.State.PAUSED]
EXAMPLES = 5


@dataclass
class LintIssue:
    level: str  # "error", "warning", or "notice" (shown, never blocks a launch)
    code: str
    message: str
    where: str = ""
    count: int | None = None
    examples: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        prefix = f"{self.where}: " if self.where else ""
        more = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return f"{prefix}{self.message}{more}"


@dataclass
class LintReport:
    issues: list[LintIssue] = field(default_factory=list)
    contacts_checked: int = 0

    @property
    def errors(self) -> list[LintIssue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[LintIssue]:
        return [i for i in self.issues if i.level == "warning"]

    @property
    def notices(self) -> list[LintIssue]:
        return [i for i in self.issues if i.level == "notice"]


def _channel(key: str) -> Channel:
    """The channel's text limit, link rewriting and subject (docs/channels.md#text-and-media-
    limits lists them); a channel no longer configured has none."""
    return channels().get(key) or Channel(key=key, label=key)


def length_limit(channel: str) -> int | None:
    """Longest text message the platform accepts, in characters."""
    return _channel(channel).text_limit


def has_subject(channel: str) -> bool:
    return _channel(channel).subject_limit is not None


def message_length(text: str, channel: str) -> int:
    return _channel(channel).message_length(text)


def lint_source(
    text: str, *, channel: str, where: str = ""
) -> tuple[list[LintIssue], Compiled | None]:
    """Checks that need no contact: syntax, spintax, unknown variables, links."""
    if not text:
        return [], None
    try:
        compiled = compile_template(text)
    except TemplateError as exc:
        return [LintIssue("error", exc.kind, str(exc), where)], None
    issues = [
        LintIssue("warning", code, f"line {line}: {msg}", where)
        for code, msg, line in compiled.warnings
    ]
    urls = _URL.findall(text)
    rewrite = _channel(channel).link_rewrite
    if urls and rewrite:
        issues.append(LintIssue("warning", "link_rewrite", rewrite, where, examples=urls[:3]))
    personal = [u for u in urls if "{{" in u or u.endswith("{")]
    for url in re.findall(r"https?://\S*\{\{[^}]*\}\}\S*", text)[:1] or personal[:1]:
        issues.append(
            LintIssue(
                "warning",
                "link_rewrite",
                "a link is personalised per contact; each contact gets a different URL",
                where,
                examples=[url],
            )
        )
    return issues, compiled


@dataclass
class _Source:
    where: str
    variant: TemplateVariant | None
    subject: Compiled | None
    body: Compiled | None


class _Tally:
    """Counts per issue with a few example contacts each."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.examples: dict[tuple, list[str]] = defaultdict(list)

    def add(self, key: tuple, who: str) -> None:
        self.counts[key] += 1
        if len(self.examples[key]) < EXAMPLES:
            self.examples[key].append(who)


def _who(row: Mapping) -> str:
    name = f"{row['first_name']} {row['last_name']}".strip()
    return f"{name or row['company'] or 'contact'} #{row['contact_id']}"


def check_rendered(
    *,
    source: _Source,
    channel: str,
    ctx: Mapping[str, str],
    seed: str,
    tally: _Tally,
    who: str,
) -> None:
    missing: list[str] = []
    if source.body is not None:
        raw = source.body.render(ctx, seed, missing)
        if len(raw) > MAX_OUTPUT:
            tally.add((source.where, "cap", MAX_OUTPUT), who)
        limit = length_limit(channel)
        if limit and message_length(plain_text(raw[:MAX_OUTPUT]), channel) > limit:
            tally.add((source.where, "length", limit), who)
    subject_limit = _channel(channel).subject_limit
    if source.subject is not None and subject_limit:
        subject = source.subject.render(ctx, f"{seed}:subject", missing)
        if len(" ".join(subject.split())) > subject_limit:
            tally.add((source.where, "subject", subject_limit), who)
    for name in set(missing):
        tally.add((source.where, "empty", name), who)


def _tally_issues(tally: _Tally, total: dict[str, int]) -> list[LintIssue]:
    issues = []
    for key, count in tally.counts.items():
        where, kind, arg = key
        examples = tally.examples[key]
        of = f"{count:,} of {total.get(where, count):,} contacts"
        if kind == "empty":
            issues.append(
                LintIssue(
                    "warning",
                    "empty_variable",
                    f"{{{{ {arg} }}}} is empty with no fallback for {of}; "
                    f'add |default:"…" or wrap it in {{% if {arg} %}}',
                    where,
                    count,
                    examples,
                )
            )
        elif kind == "length":
            issues.append(
                LintIssue(
                    "error",
                    "length",
                    f"over the {arg:,}-character limit for {of}",
                    where,
                    count,
                    examples,
                )
            )
        elif kind == "subject":
            issues.append(
                LintIssue(
                    "error",
                    "length",
                    f"subject over {arg} characters for {of}",
                    where,
                    count,
                    examples,
                )
            )
        else:
            issues.append(
                LintIssue(
                    "error",
                    "output_cap",
                    f"output over {arg:,} characters for {of}",
                    where,
                    count,
                    examples,
                )
            )
    return issues


def route_where(step: Step, route: Route) -> str:
    """How the lint names a step's channel: "step 2", or "step 2 / alternative 1 (Email)"."""
    where = f"step {step.position}"
    return f"{where} / {route.label} ({route.channel_name})" if route.position else where


def campaign_lint(*, campaign: Campaign) -> LintReport:
    """Every step's template, and every channel alternative's, for every live contact."""
    report = LintReport()
    steps = list(Step.objects.filter(sequence_id=campaign.sequence_id).select_related("template"))
    routes = routes_for_steps(steps)
    variants = variants_for_templates(
        {r.template.id for rs in routes.values() for r in rs}, pick_winners=False
    )
    plans: list[tuple[Step, Route, list[_Source]]] = []
    needed_channels: set[str] = set()
    for step in steps:
        for route in routes[step.id]:
            sources = []
            options: Sequence[TemplateVariant | None] = variants.get(route.template.id) or [None]
            for v in options:
                label = route_where(step, route) + (f" / variant {v.label}" if v else "")
                src = v or route.template
                issues_b, body = lint_source(src.body, channel=route.channel, where=f"{label} body")
                issues_s: list[LintIssue] = []
                subject = None
                if has_subject(route.channel):
                    issues_s, subject = lint_source(
                        src.subject, channel=route.channel, where=f"{label} subject"
                    )
                report.issues += issues_b + issues_s
                if any(i.level == "error" for i in issues_b + issues_s):
                    continue
                sources.append(_Source(label, v, subject, body))
                for c in (body, subject):
                    for name in c.variables if c else ():
                        if name.startswith("identities."):
                            needed_channels.add(name.split(".", 1)[1])
            needed_channels.add(route.channel)
            if len(sources) == len(options):  # every variant compiles: check each contact
                plans.append((step, route, sources))
    for step in steps:
        problem = step.condition_problem()
        if problem:
            report.issues.append(
                LintIssue("error", "condition", problem, f"step {step.position} condition")
            )
    if plans:
        _lint_contacts(campaign, plans, needed_channels, report)
    report.issues += held_issues(campaign)
    for step, route, n in us_marketing_counts(campaign, steps, routes):
        has = ngettext("contact has", "contacts have", n)
        message = f"{n:,} {has} a US (+1) WhatsApp number: {policy.US_MARKETING_PAUSED}"
        issue = LintIssue("warning", "whatsapp_us_marketing", message, route_where(step, route), n)
        report.issues.append(issue)
    if not Enrollment.objects.filter(campaign=campaign).exists():
        report.issues.append(_no_contacts(campaign))
    report.issues += _sending_domain_issues(campaign)
    return report


def _sending_domain_issues(campaign: Campaign) -> list[LintIssue]:
    """A failing sending domain of the campaign's email senders at its last DNS check: an
    error (the launch is blocked) when the domain is strict, else a warning."""
    errors, warnings = senders_domain_problems(campaign.senders.filter(channel="email"))
    return [LintIssue("error", "sending_domain", text) for text in errors] + [
        LintIssue("warning", "sending_domain", text) for text in warnings
    ]


def _no_contacts(campaign: Campaign) -> LintIssue:
    """An empty campaign is refused at launch, as lemlist and Expandi refuse one: a launched
    campaign that sends nothing only looks busy. One an active entry trigger enrols into is
    meant to start empty and fill as people write in: that one only warns."""
    if Trigger.objects.filter(campaign=campaign, active=True).exists():
        return LintIssue(
            "warning",
            "no_contacts",
            "No contacts are enrolled yet: the campaign sends once its entry trigger enrols "
            "someone.",
        )
    return LintIssue(
        "error",
        "no_contacts",
        "No contacts are enrolled: enrol some before launching (the builder's audience step, "
        "an import into this campaign, or the API), or give the campaign an entry trigger.",
    )


def _lint_contacts(
    campaign: Campaign,
    plans: list[tuple[Step, Route, list[_Source]]],
    channels: Iterable[str],
    report: LintReport,
) -> None:
    """A step's own template is checked for the contacts with an identity on its channel,
    and each alternative's for the contacts with one on the alternative's channel: any of
    them may get it, first or after a refusal."""
    from campaigns.dispatch import _pick_sender  # the dispatcher's own sticky sender choice

    fields = ["first_name", "last_name", "company", "title", "country", "locale", "time_zone"]
    rows = Enrollment.objects.filter(campaign=campaign, state__in=LIVE).values_list(
        "contact_id", "sender_id", *(f"contact__{f}" for f in fields), "contact__custom_fields"
    )
    handles: dict[int, dict[str, str]] = defaultdict(dict)
    for cid, channel, value in (
        Identity.objects.filter(contact__enrollments__campaign=campaign, channel__in=set(channels))
        .order_by("-id")
        .values_list("contact_id", "channel", "value")
        .iterator(chunk_size=5000)
    ):
        handles[cid][channel] = value  # oldest wins, as in the dispatcher
    senders = list(campaign.senders.all())
    step_routes: dict[int, list[Route]] = defaultdict(list)
    for step, route, _ in plans:
        step_routes[step.id].append(route)
    tally, no_identity = _Tally(), _Tally()
    total: Counter = Counter()
    for row in rows.iterator(chunk_size=5000):
        cid, sender_id = row[0], row[1]
        values = dict(zip(fields, row[2:-1], strict=True))
        values["custom_fields"] = row[-1]
        values["contact_id"] = cid
        who = _who(values)
        report.contacts_checked += 1
        ident = handles.get(cid, {})
        enrollment = SimpleNamespace(sender_id=sender_id, contact_id=cid)
        for step, route, sources in plans:
            handle = ident.get(route.channel)
            if handle is None:
                first = step_routes[step.id][0]
                if route is first and not any(r.channel in ident for r in step_routes[step.id]):
                    no_identity.add((f"step {step.position}", step.id), who)
                continue
            sender = _pick_sender(senders, enrollment, route.channel)  # type: ignore[arg-type]
            ctx = context_from_values(
                values,
                handle=handle,
                identities=ident,
                sender_name=sender.name if sender else "",
                sender_handle=sender.handle if sender else "",
                campaign_name=campaign.name,
            )
            source = sources[0]
            if len(sources) > 1:
                chosen = variant_pick(
                    step_id=step.id,
                    # Several sources: one per variant, none of them None.
                    variants=[s.variant for s in sources if s.variant is not None],
                    contact_id=cid,
                )
                source = next(s for s in sources if s.variant is chosen)
            total[source.where] += 1
            check_rendered(
                source=source,
                channel=route.channel,
                ctx=ctx,
                seed=f"{cid}:{step.id}",
                tally=tally,
                who=who,
            )
    report.issues += _tally_issues(tally, total)
    for (where, step_id), count in no_identity.counts.items():
        names = [r.channel_name for r in step_routes[step_id]]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        report.issues.append(
            LintIssue(
                "warning",
                "no_identity",
                f"{count:,} {ngettext('contact has', 'contacts have', count)} no {listed} "
                "identity; the step is skipped for them",
                where,
                count,
                no_identity.examples[(where, step_id)],
            )
        )


def held_issues(campaign: Campaign) -> list[LintIssue]:
    """Per step, the contacts its channel cannot reach now, by the policy gate's reason: a
    Telegram contact who has not started the bot, a closed WhatsApp window, an opt-out.
    Their message would wait (or be cancelled) instead of going out: a notice, as the wait
    is the platform's rule and not a mistake to confirm."""
    issues = []
    for entry in campaign_steps_held(campaign=campaign):
        for reason, count in entry.reasons.most_common():
            issues.append(
                LintIssue(
                    "notice",
                    "held",
                    f"{count:,} {ngettext('contact is', 'contacts are', count)} held, not "
                    f"sent: {reason}",
                    f"step {entry.step.position}",
                    count,
                    entry.examples[reason],
                )
            )
    return issues
