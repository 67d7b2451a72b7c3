"""A confirmation page for bulk admin actions: how many rows will change, then do it."""

from django import forms
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import ngettext


def action_confirmed(request: HttpRequest, form: forms.Form | None = None) -> bool:
    """True once the rep pressed the confirm button (and the action's form, if any, is valid)."""
    return "confirm" in request.POST and (form is None or form.is_valid())


def action_confirmation(
    modeladmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: str,
    will_change: int,
    note: str = "",
    form: forms.Form | None = None,
) -> TemplateResponse:
    selected = queryset.count()
    return TemplateResponse(
        request,
        "admin/confirm_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.model._meta,
            "action": action,
            "selected": selected,
            "will_change": will_change,
            "unchanged": selected - will_change,
            "note": note,
            "form": form,
            "ids": queryset.values_list("pk", flat=True),
            "preview": queryset[:10],
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        },
    )


def action_result(changed: int, selected: int, noun: str, verb: str) -> str:
    """What a bulk action did: the rows it changed, not the rows selected."""
    text = f"{changed} {ngettext(noun, f'{noun}s', changed)} {verb}."
    if selected > changed:
        text += f" {selected - changed} skipped (already {verb} or not in a state to be)."
    return text
