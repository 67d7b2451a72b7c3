"""Dashboards, the send forecast and the campaign builder, outside the admin. Thin: each view
validates input, calls one selector or service, and renders (or exports a table as CSV).

The builder's pages live here, not in campaigns, because its review step shows the send
forecast (analytics/forecast.py); the services they call are campaigns/builder.py."""

from collections.abc import Iterable
from itertools import chain

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from analytics import charts
from analytics.campaign import campaign_dashboard
from analytics.costs import campaign_costs
from analytics.forecast import campaign_forecast
from analytics.forms import (
    AudienceForm,
    CampaignSetupForm,
    LaunchForm,
    OverviewFilterForm,
)
from analytics.held import HELD_COLUMNS, held_messages
from analytics.overview import campaigns_overview
from analytics.pool import campaign_pool
from analytics.tables import Table, csv_rows
from campaigns.access import campaigns_visible_to, sequences_visible_to
from campaigns.builder import audience_contacts, campaign_create, campaign_enrol_audience
from campaigns.manual_tasks import manual_task_counts
from campaigns.models import Campaign, Enrollment, Step
from campaigns.preview import step_previews
from campaigns.services import (
    LaunchError,
    campaign_launch,
    campaign_launch_check,
    campaign_pause,
    campaign_resume,
)
from contacts.access import contacts_visible_to
from contacts.csv_download import csv_download
from deliverability.access import domains_visible_to
from deliverability.services import domains_failing


def csv_response(
    table: Table, filename: str, rows: Iterable[list] | None = None
) -> StreamingHttpResponse:
    """The table as CSV; `rows`, when given, are streamed instead of the table's own."""
    return csv_download(
        chain([table.columns], csv_rows(table.rows if rows is None else rows)), f"{filename}.csv"
    )


def _export(
    request: HttpRequest, tables: dict[str, Table], prefix: str
) -> StreamingHttpResponse | None:
    name = request.GET.get("export")
    if not name:
        return None
    if name not in tables:
        raise Http404("No such table.")
    return csv_response(tables[name], f"{prefix}-{name}")


@login_required
def overview(request: HttpRequest) -> HttpResponseBase:
    form = OverviewFilterForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    owner = filters.get("owner")
    data = campaigns_overview(
        user=request.user,
        owner_id=owner.id if owner else None,
        status=filters.get("status", ""),
        channel=filters.get("channel", ""),
    )
    table = data.table()
    exported = _export(request, {"campaigns": table}, "campaigns")
    if exported:
        return exported
    return render(
        request,
        "analytics/overview.html",
        {
            "form": form,
            "data": data,
            "table": table,
            "sparklines": [(r, charts.sparkline(r.sparkline), f"spark-{r.id}") for r in data.rows],
            "query": request.GET.urlencode(),
            "failing_domains": domains_failing(domains_visible_to(request.user)),
            "tasks": manual_task_counts(request.user, timezone.now()),
        },
    )


@login_required
def dashboard(request: HttpRequest, pk: int) -> HttpResponseBase:
    campaign = get_object_or_404(
        campaigns_visible_to(request.user).select_related("owner", "sequence"), pk=pk
    )
    if request.GET.get("export") == "held":
        # Every held message, not the page's first HELD_LIMIT: streamed as it is read.
        return csv_response(
            Table("held", "Held messages", HELD_COLUMNS),
            f"campaign-{campaign.pk}-held",
            rows=(h.cells() for h in held_messages(campaign=campaign)),
        )
    data = campaign_dashboard(campaign=campaign)
    tables = data.tables()
    exported = _export(request, tables, f"campaign-{campaign.pk}")
    if exported:
        return exported
    return render(
        request,
        "analytics/dashboard.html",
        {
            "campaign": campaign,
            "d": data,
            "tables": tables,
            "funnel_chart": charts.funnel_chart(data),
            "series_chart": charts.series_chart(data),
            "intent_chart": charts.intent_chart(data),
        },
    )


def _changeable(request: HttpRequest, pk: int) -> Campaign:
    """A campaign the user sees and may change: what the admin's pause action requires."""
    if not request.user.has_perm("campaigns.change_campaign"):
        raise PermissionDenied
    return get_object_or_404(campaigns_visible_to(request.user), pk=pk)


@login_required
@require_POST
def pause(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _changeable(request, pk)
    if campaign.status != Campaign.Status.RUNNING:
        messages.info(request, f"“{campaign}” is not running: nothing to pause.")
    else:
        campaign_pause(campaign=campaign, actor=request.user)
        messages.success(request, f"“{campaign}” paused: its queued messages wait.")
    return redirect("dashboards:campaign", pk=campaign.pk)


@login_required
@require_POST
def resume(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _changeable(request, pk)
    if campaign.status != Campaign.Status.PAUSED:
        messages.info(request, f"“{campaign}” is not paused: nothing to resume.")
    else:
        campaign_resume(campaign=campaign, actor=request.user)
        messages.success(request, f"“{campaign}” resumed.")
    return redirect("dashboards:campaign", pk=campaign.pk)


@login_required
def forecast(request: HttpRequest, pk: int) -> HttpResponseBase:
    campaign = get_object_or_404(campaigns_visible_to(request.user), pk=pk)
    result = campaign_forecast(campaign=campaign)
    table = result.table()
    exported = _export(
        request,
        {"forecast": table, "forecast-held": result.held_table()},
        f"campaign-{campaign.pk}",
    )
    if exported:
        return exported
    return render(
        request,
        "analytics/forecast.html",
        {
            "campaign": campaign,
            "forecast": result,
            "table": table,
            "forecast_chart": charts.forecast_chart(result),
            "costs": campaign_costs(campaign=campaign, forecast=result),
        },
    )


# --- the builder: setup -> audience -> review (preview, lint, forecast) -> launch ------------


@login_required
def builder_start(request: HttpRequest) -> HttpResponse:
    # ?sequence=<id>: the sequence just built for this campaign (analytics/sequence_views.py),
    # preselected when the user may see it.
    built = sequences_visible_to(request.user).filter(pk=_int(request.GET.get("sequence"))).first()
    form = CampaignSetupForm(
        request.POST or None, user=request.user, initial={"sequence": built} if built else None
    )
    if request.method == "POST" and form.is_valid():
        campaign = campaign_create(
            name=form.cleaned_data["name"],
            sequence=form.cleaned_data["sequence"],
            senders=list(form.cleaned_data["senders"]),
            owner=request.user,
        )
        return redirect("dashboards:builder_audience", pk=campaign.pk)
    return render(request, "campaigns/builder.html", {"form": form, "step": 1})


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 10 else 0  # 0: no row


def _draft(request: HttpRequest, pk: int) -> Campaign:
    campaign = get_object_or_404(campaigns_visible_to(request.user), pk=pk)
    if campaign.status != Campaign.Status.DRAFT:
        raise Http404("This campaign is no longer a draft.")
    return campaign


@login_required
def builder_audience(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _draft(request, pk)
    form = AudienceForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        contacts = audience_contacts(
            tags=form.cleaned_data["tags"],
            contact_import=form.cleaned_data["contact_import"],
            user=request.user,
        )
        added = campaign_enrol_audience(campaign=campaign, contacts=contacts, actor=request.user)
        messages.success(request, f"{added} {ngettext('contact', 'contacts', added)} enrolled.")
        return redirect("dashboards:builder_review", pk=campaign.pk)
    enrolled = Enrollment.objects.filter(campaign=campaign).count()
    return render(
        request,
        "campaigns/builder.html",
        {"form": form, "step": 2, "campaign": campaign, "enrolled": enrolled},
    )


@login_required
def builder_review(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _draft(request, pk)
    problems, warnings = campaign_launch_check(campaign=campaign)
    form = LaunchForm(request.POST or None, warnings=bool(warnings))
    if request.method == "POST" and form.is_valid():
        try:
            campaign_launch(
                campaign=campaign,
                confirm_warnings=form.cleaned_data.get("confirm_warnings", False),
                actor=request.user,
            )
        except LaunchError as exc:
            problems, warnings = exc.problems, exc.warnings
            for problem in exc.problems:
                form.add_error(None, problem)
            if exc.needs_confirmation and "confirm_warnings" in form.fields:
                form.add_error("confirm_warnings", "Read the warnings, then tick this box.")
            elif exc.needs_confirmation:  # warnings that came up since the page was shown
                form.add_error(None, "Read the new warnings, then launch again.")
        else:
            messages.success(request, f"“{campaign}” launched.")
            return redirect("dashboards:campaign", pk=campaign.pk)
    first = Step.objects.filter(sequence=campaign.sequence).select_related("template").first()
    sample = (
        Enrollment.objects.filter(campaign=campaign, contact__in=contacts_visible_to(request.user))
        .select_related("contact")
        .first()
        if first
        else None
    )
    previews = step_previews(step=first, contact=sample.contact) if first and sample else []
    preview = previews[0][1] if previews else None
    result = campaign_forecast(campaign=campaign)
    return render(
        request,
        "campaigns/builder.html",
        {
            "form": form,
            "step": 3,
            "campaign": campaign,
            "problems": problems,
            "warnings": warnings,
            "preview": preview,
            "alternative_previews": previews[1:],  # the step's channel alternatives
            "forecast": result,
            "table": result.table(),
            "forecast_chart": charts.forecast_chart(result),
            "costs": campaign_costs(campaign=campaign, forecast=result),
            "pool": campaign_pool(campaign=campaign, now=timezone.now()),
            "enrolled": Enrollment.objects.filter(campaign=campaign).count(),
        },
    )
