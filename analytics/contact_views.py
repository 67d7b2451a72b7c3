"""The contacts list and one contact's page; they read through analytics.contact_selectors."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from analytics import contact_selectors as selectors
from analytics.contact_duplicates import contact_duplicates
from analytics.contact_selectors import enrollable_campaigns
from campaigns.access import campaigns_visible_to
from contacts.channels import channel_choices
from contacts.models import Tag
from core.access import owners_assignable_by, users_visible_to

PAGE_SIZE = 50  # contacts per page
FILTERS = ("q", "tag", "owner", "channel", "state", "campaign")  # the list's GET parameters


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def query_from(params: QueryDict) -> selectors.ContactQuery:
    """The list's filter from its GET parameters (the bulk form posts the same names)."""
    return selectors.ContactQuery(
        q=params.get("q", "").strip()[:200],
        tag=_int(params.get("tag")),
        owner=_int(params.get("owner")),
        channel=params.get("channel", ""),
        state=params.get("state", ""),
        campaign=_int(params.get("campaign")),
    )


@login_required
def contact_list(request: HttpRequest) -> HttpResponse:
    get = request.GET
    query = query_from(get)
    pages = Paginator(selectors.contact_list(request.user, query), PAGE_SIZE)
    page = pages.get_page(get.get("page"))
    params = get.copy()
    params.pop("page", None)
    context = {
        "query": query,
        "page": page,
        "page_links": pages.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "params": params.urlencode(),
        "tags": Tag.objects.all(),
        "owners": users_visible_to(request.user).order_by("username"),
        "channels": channel_choices(),
        "campaigns": campaigns_visible_to(request.user).only("id", "name"),
        "filter_fields": [(name, get[name]) for name in FILTERS if get.get(name)],
        "assignable": owners_assignable_by(request.user).order_by("username"),
        "enrollable": enrollable_campaigns(request.user),
    }
    return render(request, "analytics/contacts.html", context)


@login_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.visible_contact(request.user, pk)
    if contact is None:
        raise Http404
    context = {
        "contact": contact,
        "timeline": selectors.contact_timeline(request.user, contact),
        "duplicates": contact_duplicates(request.user, contact),
    }
    return render(request, "analytics/contact.html", context)
