"""Chart specifications (plain dicts, rendered by static/campaigns/charts.js) built from the
selectors' dataclasses. Missing figures stay missing (None), never drawn as zero."""

from analytics.campaign import Dashboard
from analytics.forecast import Forecast


def funnel_chart(d: Dashboard) -> dict:
    return {
        "type": "bar",
        "horizontal": True,
        "labels": [f.label if f.count is not None else f"{f.label} (n/a)" for f in d.funnel],
        "datasets": [{"label": "Contacts", "data": [f.count for f in d.funnel]}],
    }


def series_chart(d: Dashboard) -> dict:
    return {
        "type": "line",
        "labels": [day.strftime("%d %b") for day in d.days],
        "datasets": [
            {"label": "Sends", "data": d.sends_per_day},
            {"label": "Replies", "data": d.replies_per_day},
        ],
    }


def intent_chart(d: Dashboard) -> dict:
    return {
        "type": "bar",
        "labels": [label for label, _ in d.intents],
        "datasets": [{"label": "Replies", "data": [n for _, n in d.intents]}],
    }


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
