"""The sender health page (/senders/<id>/health/): a thin view over
deliverability.health.sender_health, its tables (shown and exported as CSV, like the
campaign dashboard's) and its 30-day chart of the guard's rolling rates against the pause
thresholds."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from analytics.tables import Table
from analytics.views import _export
from deliverability.access import domains_visible_to
from deliverability.health import Health, sender_health
from deliverability.rates import Rates
from outreach.access import senders_visible_to
from outreach.sending.team_limits import team_sent_today
from outreach.team_caps import TeamChannelCap, team_cap_set, teams_capped_by, teams_of_owner


class TeamCapForm(forms.Form):
    team = forms.IntegerField(widget=forms.HiddenInput, required=False)
    per_day = forms.IntegerField(
        min_value=0, required=False, label="Team daily cap", help_text="Empty or 0: no cap."
    )


def _team_caps(request: HttpRequest, sender) -> list[dict]:
    """The sender's teams with their cap for its channel and today's count."""
    changeable = set(teams_capped_by(request.user).values_list("id", flat=True))
    rows = []
    for team in teams_of_owner(sender.owner_id):
        cap = TeamChannelCap.objects.filter(team=team, channel=sender.channel).first()
        rows.append(
            {
                "team": team,
                "cap": cap,
                "today": team_sent_today(cap, timezone.now()) if cap else None,
                "may_change": team.id in changeable,
            }
        )
    return rows


def _pct(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def _rate_rows(h: Health) -> list[list]:
    g = h.guard
    rows = []
    scopes: list[tuple[str, Rates | None]] = [("this sender", h.rates)]
    if h.domain_rates is not None:
        scopes.append((h.domain, h.domain_rates))
    for scope, r in scopes:
        if r is None:
            continue
        counts = r.sends >= g.min_sends
        note = "" if counts else f" (under {g.min_sends} sends: not counted yet)"
        rows += [
            [
                f"hard bounces, {scope}",
                r.hard_bounces,
                r.sends,
                _pct(r.bounce_rate) + note,
                _pct(g.bounce_warn),
                _pct(g.bounce_pause),
            ],
            [
                f"complaints, {scope}",
                r.complaints,
                r.sends,
                _pct(r.complaint_rate) + note,
                _pct(g.complaint_warn),
                _pct(g.complaint_pause),
            ],
            [f"one-click unsubscribes, {scope}", r.unsubscribes, r.sends, "", "", ""],
        ]
    return rows


def tables(h: Health) -> dict[str, Table]:
    rates = Table(
        "rates",
        f"Rates over the last {h.guard.window_days} days",
        ["what", "count", "sends", "rate", "warn at", "pause at"],
    )
    rates.rows = _rate_rows(h)
    days = Table("days", "The last 30 days", ["day", "sends", "hard bounces", "complaints"])
    days.rows = [
        [d, s, b, c] for d, s, b, c in zip(h.days, h.sends, h.bounces, h.complaints, strict=True)
    ]
    providers = Table(
        "providers",
        "By recipient provider (30 days)",
        ["provider", "sends", "hard bounces", "complaints"],
    )
    providers.rows = [[p.provider, p.sends, p.bounces, p.complaints] for p in h.providers]
    pauses = Table("pauses", "Pauses and resumes", ["when", "what", "by"])
    pauses.rows = [[p.at, p.reason, p.by] for p in h.pauses]
    pauses.empty = "Never paused."
    return {t.name: t for t in (rates, days, providers, pauses)}


def rates_chart(h: Health) -> dict:
    """The rolling rates day by day, with each pause threshold as a flat line."""
    spec: dict[str, object] = {
        "type": "line",
        "decimals": True,
        "labels": [f"{d:%d %b}" for d in h.days],
        "datasets": [
            {"label": "Hard-bounce rate %", "data": h.rolling(h.bounces)},
            {"label": "Complaint rate %", "data": h.rolling(h.complaints)},
            {"label": "Bounce pause at %", "data": [h.guard.bounce_pause] * len(h.days)},
            {"label": "Complaint pause at %", "data": [h.guard.complaint_pause] * len(h.days)},
        ],
    }
    if not any(h.sends):
        spec["empty"] = "No sends in the last 30 days: the rates start with the first."
    else:
        spec["note"] = (
            f"Each day's rate is over the {h.guard.window_days} days ending that day; days "
            f"with fewer than {h.guard.min_sends} sends in that window are left out."
        )
    return spec


@login_required
def health(request: HttpRequest, pk: int) -> HttpResponseBase:
    sender = get_object_or_404(senders_visible_to(request.user), pk=pk)
    h = sender_health(sender=sender, now=timezone.now())
    shown = tables(h)
    exported = _export(request, shown, f"sender-{sender.pk}")
    if exported:
        return exported
    return render(
        request,
        "analytics/sender_health.html",
        {
            "h": h,
            "sender": sender,
            "tables": shown,
            "rates_chart": rates_chart(h),
            "team_caps": _team_caps(request, sender),
            "cap_day_zone": settings.TIME_ZONE,  # the day team caps count by
            # The domain's last DNS check, when the user may see it (deliverability/checks.py).
            "domain": domains_visible_to(request.user).filter(domain=h.domain).first()
            if h.domain
            else None,
        },
    )


@login_required
@require_POST
def team_cap(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Set the daily cap of one of the sender's teams for the sender's channel (a manager of
    that team, or an admin). Without a team named, the one team of the sender they may set."""
    sender = get_object_or_404(senders_visible_to(request.user), pk=pk)
    teams = teams_capped_by(request.user).filter(id__in=teams_of_owner(sender.owner_id))
    if not teams.exists():
        raise Http404("No team of this sender whose cap you may set.")
    form = TeamCapForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The team daily cap must be a whole number, 0 or more.")
        return redirect("dashboards:sender_health", pk=pk)
    chosen = form.cleaned_data["team"]
    team = get_object_or_404(teams, pk=chosen) if chosen else teams.get()
    per_day = form.cleaned_data["per_day"] or None
    team_cap_set(team=team, channel=sender.channel, per_day=per_day, actor=request.user)
    said = f"{per_day} {sender.channel} messages a day" if per_day else f"no {sender.channel} cap"
    messages.success(request, f"{team.name}: {said} across all its senders.")
    return redirect("dashboards:sender_health", pk=pk)
