"""Pipeline boards: one column per stage, deals dragged between them."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from outreach.selectors import latest_conversations
from pipelines.access import deals_visible_to
from pipelines.models import Pipeline, Stage
from pipelines.services import deal_move, pipeline_board


class MoveForm(forms.Form):
    stage = forms.IntegerField(min_value=1)


@login_required
def pipeline_index(request: HttpRequest) -> HttpResponse:
    first = Pipeline.objects.order_by("-is_default", "name").first()
    if first is None:
        return render(request, "pipelines/board.html", {"pipelines": []})
    return redirect("pipelines:board", pk=first.pk)


@login_required
def board(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    deals = (
        deals_visible_to(request.user)
        .select_related("contact", "owner")
        .prefetch_related("history__to_stage", "history__changed_by")
    )
    board = pipeline_board(pipeline=pipeline, deals=deals)
    conversations = latest_conversations(
        user=request.user, contact_ids=[d.contact_id for c in board.columns for d in c.deals]
    )
    for column in board.columns:
        for deal in column.deals:
            deal.conversation_id = conversations.get(deal.contact_id)  # type: ignore[attr-defined]
    context = {
        "pipeline": pipeline,
        "pipelines": Pipeline.objects.order_by("name"),
        "board": board,
        "stages": [c.stage for c in board.columns],
    }
    return render(request, "pipelines/board.html", context)


@login_required
@require_POST
def deal_move_view(request: HttpRequest, pk: int) -> HttpResponse:
    deal = get_object_or_404(deals_visible_to(request.user), pk=pk)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    stage = Stage.objects.filter(
        pk=form.cleaned_data["stage"], pipeline_id=deal.pipeline_id
    ).first()
    if stage is None:
        return JsonResponse(
            {"errors": {"stage": ["Not a stage of this deal's pipeline."]}}, status=400
        )
    change = deal_move(deal=deal, stage=stage, by=request.user, reason="moved on the board")
    return JsonResponse({"moved": change is not None, "stage": stage.name})
