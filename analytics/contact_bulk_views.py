"""Bulk actions on the contacts list: the ticked contacts, or every contact matching the
filter, narrowed to those the user sees (ids of others are ignored). Opting out and
enrolling ask for confirmation with the count first."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from analytics import contact_selectors as selectors
from analytics.contact_views import FILTERS, query_from
from campaigns.bulk import contacts_enrol, contacts_opt_out
from contacts.access import contacts_visible_to
from contacts.bulk import contacts_owner_assign, contacts_tag_add
from contacts.export import export_csv_lines
from contacts.models import Contact
from core.access import owners_assignable_by

NEEDS_CONFIRMING = {"opt_out", "enrol"}


def _selection(request: HttpRequest) -> QuerySet[Contact]:
    post = request.POST
    if post.get("all") == "1":
        matching = selectors.contact_list(request.user, query_from(post))
        return Contact.objects.filter(pk__in=matching.values("pk"))
    ids = [int(i) for i in post.getlist("ids") if i.isdigit()]
    return Contact.objects.filter(pk__in=contacts_visible_to(request.user).filter(pk__in=ids))


def _list_url(request: HttpRequest) -> str:
    """The list, filtered as it was."""
    params = QueryDict(mutable=True)
    for name in FILTERS:
        if request.POST.get(name):
            params[name] = request.POST[name]
    return f"{reverse('contact_pages:list')}?{params.urlencode()}"


def _back(request: HttpRequest):
    return redirect(_list_url(request))


def _contacts(n: int) -> str:
    return f"{n} {ngettext('contact', 'contacts', n)}"


@login_required
@require_POST
def contact_bulk(request: HttpRequest) -> HttpResponseBase:
    post, user = request.POST, request.user
    action = post.get("action", "")
    contacts = _selection(request)
    count = contacts.count()
    if not count:
        messages.error(request, "Tick at least one contact, or select all matching the filter.")
        return _back(request)
    if action == "export":
        response = StreamingHttpResponse(
            export_csv_lines(contacts), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="contacts.csv"'
        return response
    campaign = None
    if action == "enrol":
        campaign = get_object_or_404(
            selectors.enrollable_campaigns(user), pk=post.get("bulk_campaign") or 0
        )
    if action in NEEDS_CONFIRMING and post.get("confirmed") != "yes":
        fields = [(k, v) for k in post for v in post.getlist(k) if k != "csrfmiddlewaretoken"]
        context = {
            "action": action,
            "count": count,
            "campaign": campaign,
            "fields": fields,
            "back": _list_url(request),
        }
        return render(request, "analytics/contact_bulk_confirm.html", context)
    if action == "tag":
        try:
            tag, n = contacts_tag_add(contacts=contacts, name=post.get("bulk_tag", ""), actor=user)
        except ValueError as problem:
            messages.error(request, str(problem))
            return _back(request)
        messages.success(request, f"Tag “{tag.name}” added to {_contacts(n)}.")
    elif action == "owner":
        owner = get_object_or_404(owners_assignable_by(user), pk=post.get("bulk_owner") or 0)
        try:
            n = contacts_owner_assign(contacts=contacts, owner=owner, actor=user)
        except PermissionDenied as refused:
            messages.error(request, str(refused))
            return _back(request)
        messages.success(request, f"{_contacts(n)} now owned by {owner.get_username()}.")
    elif action == "enrol" and campaign is not None:
        n = contacts_enrol(contacts=contacts, campaign=campaign, actor=user)
        messages.success(request, f"{_contacts(n)} enrolled in {campaign.name}.")
    elif action == "opt_out":
        n = contacts_opt_out(contacts=contacts, actor=user, source="contacts list")
        messages.success(request, f"{_contacts(n)} opted out of every channel.")
    else:
        messages.error(request, "Choose an action.")
    return _back(request)
