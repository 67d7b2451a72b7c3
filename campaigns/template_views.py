"""The template editor with a live preview and lint, outside the admin."""

import re
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from campaigns.access import (
    campaigns_visible_to,
    home_team_of,
    template_edit_refusal,
    templates_visible_to,
)
from campaigns.lint import campaign_lint
from campaigns.models import Template
from campaigns.preview import preview_lint, preview_sample, template_preview
from campaigns.template_forms import PreviewForm, TemplateForm
from campaigns.variants import template_variant_stats
from campaigns.versions import template_save
from contacts.access import contacts_visible_to
from core.audit import audit_record

DEFAULT_CHANNEL = "email"


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    templates = templates_visible_to(request.user)
    return render(request, "campaigns/template_list.html", {"templates": templates})


@login_required
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if pk is None:  # a new one: the user's, for their team (campaigns/access.py)
        user = cast(User, request.user)  # logged in
        template = Template(created_by=user, team=home_team_of(user))
        refusal = ""
    else:
        template = get_object_or_404(templates_visible_to(request.user), pk=pk)
        refusal = template_edit_refusal(request.user, template)
    if request.method == "POST" and refusal:
        raise PermissionDenied(refusal)
    form = TemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        version = template_save(template=form.save(commit=False), actor=request.user)
        if pk is None:
            audit_record(actor=request.user, action="template.create", target=template)
        messages.success(request, f"“{template}” saved ({version.label}).")
        return redirect("templates:edit", pk=template.pk)
    context = {
        "template": template,
        "form": form,
        "preview_url": (
            reverse("templates:preview", args=[pk]) if pk else reverse("templates:preview_new")
        ),
        "contacts": contacts_visible_to(request.user).order_by("-id")[:50],
        "channels": Template._meta.get_field("channel").choices,
        "channel": template.channel or DEFAULT_CHANNEL,
        "ab": template_variant_stats(template=template) if pk else None,
        "versions": template.versions.select_related("created_by")[:10] if pk else [],
        "refusal": refusal,
    }
    return render(request, "campaigns/template_edit.html", context)


def _preview(request: HttpRequest, template: Template | None, data: dict) -> HttpResponse:
    form = PreviewForm(data)
    form.is_valid()  # every field is optional; bad values fall back to defaults below
    data = form.cleaned_data
    channel = data.get("channel") or (template.channel if template else "") or DEFAULT_CHANNEL
    subject, body = data.get("subject") or "", data.get("body") or ""
    visible = contacts_visible_to(request.user)
    if data.get("sample"):
        previews = preview_sample(
            template=template, subject=subject, body=body, channel=channel, contacts=visible
        )
    else:
        contact_pk = data.get("contact")
        chosen = visible.filter(pk=contact_pk).first() if contact_pk is not None else None
        contact = chosen or visible.order_by("-id").first()
        previews = (
            [
                template_preview(
                    template=template, subject=subject, body=body, channel=channel, contact=contact
                )
            ]
            if contact
            else []
        )
    issues = preview_lint(subject=subject, body=body, channel=channel, previews=previews)
    return render(
        request,
        "campaigns/_preview.html",
        {"previews": previews, "issues": issues, "channel": channel},
    )


@login_required
@require_POST
def template_preview_view(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(templates_visible_to(request.user), pk=pk)
    return _preview(request, template, request.POST.dict())


PREFIX = re.compile(r"[a-z0-9-]{0,20}")


@login_required
@require_POST
def template_preview_new(request: HttpRequest) -> HttpResponse:
    """The preview of text not saved as a template yet: the new-template editor's, or a
    step's in the sequence builder, whose fields carry the step's ``prefix`` (``s2-body``)."""
    prefix = request.POST.get("prefix", "")
    prefix = prefix if PREFIX.fullmatch(prefix) else ""
    data = {k: request.POST.get(prefix + k, "") for k in ("subject", "body", "channel")}
    data |= {k: request.POST.get(k, "") for k in ("contact", "sample")}
    return _preview(request, None, data)


@login_required
def campaign_lint_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(campaigns_visible_to(request.user), pk=pk)
    report = campaign_lint(campaign=campaign)
    return render(request, "campaigns/campaign_lint.html", {"campaign": campaign, "report": report})
