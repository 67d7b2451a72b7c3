"""Chart specifications (plain dicts, rendered by static/campaigns/charts.js) built from the
selectors' dataclasses. Missing figures stay missing (None), never drawn as zero.

A chart with nothing to draw carries ``empty``, the reason in words, which the page shows
instead of a blank canvas (analytics/templates/analytics/_chart.html); ``note`` explains a
figure the chart leaves out."""

from django.utils.text import get_text_list
from django.utils.translation import ngettext

from analytics.campaign import Dashboard
from analytics.forecast import Forecast
from campaigns.models import Campaign


def funnel_chart(d: Dashboard) -> dict:
    spec: dict[str, object] = {
        "type": "bar",
        "horizontal": True,
        "labels": [f.label if f.count is not None else f"{f.label} (n/a)" for f in d.funnel],
        "datasets": [{"label": "Contacts", "data": [f.count for f in d.funnel]}],
    }
    if not d.funnel[0].count:
        spec["empty"] = "No contacts enrolled yet: enrol contacts to see them move through."
    silent = sorted({s.channel for s in d.steps if not s.delivery_reported})
    if silent:
        verb = "does" if len(silent) == 1 else "do"
        note = f"{get_text_list(silent, 'and')} {verb} not report delivery."
        if any(f.label == "Delivered" and f.count is None for f in d.funnel):
            note += " Delivered is shown as n/a, not as zero."
        spec["note"] = note
    return spec


def _not_sent_yet(d: Dashboard) -> str:
    if d.campaign.status == Campaign.Status.DRAFT or d.campaign.launched_at is None:
        return "No messages sent yet: the campaign starts sending at launch."
    if d.held_total:
        waiting = ngettext("message is waiting", "messages are waiting", d.held_total)
        return f"No messages sent yet: {d.held_total} {waiting} (see “Why not sent” below)."
    return "No messages sent yet."


def series_chart(d: Dashboard) -> dict:
    spec = {
        "type": "line",
        "labels": [day.strftime("%d %b") for day in d.days],
        "datasets": [
            {"label": "Sends", "data": d.sends_per_day},
            {"label": "Replies", "data": d.replies_per_day},
        ],
    }
    if not any(d.sends_per_day) and not any(d.replies_per_day):
        spec["empty"] = _not_sent_yet(d)
    return spec


def intent_chart(d: Dashboard) -> dict:
    spec = {
        "type": "bar",
        "labels": [label for label, _ in d.intents],
        "datasets": [{"label": "Replies", "data": [n for _, n in d.intents]}],
    }
    if not any(n for _, n in d.intents):
        replied = next((f.count for f in d.funnel if f.label == "Replied"), 0) or 0
        if replied:  # the replies carry no intent label (yet)
            replies = ngettext("reply has", "replies have", replied)
            spec["empty"] = f"{replied} {replies} no intent label yet."
        elif any(s.sent for s in d.steps):
            spec["empty"] = "No replies yet."
        else:
            spec["empty"] = f"No replies yet. {_not_sent_yet(d)}"
    return spec


def forecast_chart(f: Forecast) -> dict:
    per_day = f.per_day()
    return {
        "type": "bar",
        "stacked": True,
        "labels": [day.strftime("%a %d %b") for day in f.days],
        "datasets": [
            {"label": f"Step {s.position} ({s.channel})", "data": per_day[s.position]}
            for s in f.steps
        ],
    }


def sparkline(data: list[int]) -> dict:
    return {
        "type": "line",
        "sparkline": True,
        "labels": list(range(len(data))),
        "datasets": [{"label": "Sends", "data": data}],
    }
