"""Merging two contacts (choose the other one, preview, confirm) and the list of likely
duplicates. The merge itself is campaigns.contact_merge.contacts_merge."""

from itertools import combinations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from analytics import contact_duplicates as duplicates
from analytics import contact_selectors as selectors
from campaigns.contact_merge import MergeRefused, contact_merge_plan, contacts_merge

CHOICES_SHOWN = 20  # search results offered as the other contact
GROUPS_PER_PAGE = 25


def _visible(request: HttpRequest, pk: int):
    contact = selectors.visible_contact(request.user, pk)
    if contact is None:
        raise Http404
    return contact


@login_required
def merge_choose(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _visible(request, pk)
    q = request.GET.get("q", "").strip()[:200]
    found = []
    if q:
        query = selectors.ContactQuery(q=q)
        found = list(selectors.contact_list(request.user, query).exclude(pk=pk)[:CHOICES_SHOWN])
    context = {
        "contact": contact,
        "q": q,
        "found": found,
        "duplicates": duplicates.contact_duplicates(request.user, contact),
    }
    return render(request, "analytics/contact_merge_choose.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def merge_preview(request: HttpRequest, pk: int, other: int) -> HttpResponse:
    keep, merge = _visible(request, pk), _visible(request, other)
    if request.method == "POST":
        said = f"Merged {merge} (#{merge.pk}) into {keep} (#{keep.pk})."  # names before
        try:
            kept = contacts_merge(keep=keep, merge=merge, actor=request.user)
        except MergeRefused as refused:
            messages.error(request, str(refused))
            return redirect("contact_pages:merge", pk=pk, other=other)
        messages.success(request, said)
        return redirect("contact_pages:detail", pk=kept.pk)
    plan = contact_merge_plan(keep=keep, merge=merge)
    return render(request, "analytics/contact_merge.html", {"plan": plan})


@login_required
def duplicate_list(request: HttpRequest) -> HttpResponse:
    pages = Paginator(duplicates.duplicate_groups(request.user), GROUPS_PER_PAGE)
    page = pages.get_page(request.GET.get("page"))
    groups = list(page)
    ids = duplicates.group_contact_ids(request.user, [g["key"] for g in groups])
    contacts = duplicates.contacts_by_id(request.user, {c for g in ids.values() for c in g})
    rows = [
        {
            "reason": duplicates.describe(g["key"]),
            "pairs": [
                (contacts[a], contacts[b])
                for a, b in combinations(ids[g["key"]], 2)
                if a in contacts and b in contacts
            ],
        }
        for g in groups
    ]
    context = {
        "page": page,
        "rows": rows,
        "page_links": pages.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    }
    return render(request, "analytics/contact_duplicates.html", context)
