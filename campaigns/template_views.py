"""The template editor with a live preview and lint, outside the admin."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from campaigns.access import campaigns_visible_to, template_edit_refusal, templates_visible_to
from campaigns.lint import campaign_lint
from campaigns.models import Template
from campaigns.preview import preview_lint, preview_sample, template_preview
from campaigns.template_forms import PreviewForm, TemplateForm
from campaigns.variants import template_variant_stats
from campaigns.versions import template_save
from contacts.access import contacts_visible_to

DEFAULT_CHANNEL = "email"


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    templates = templates_visible_to(request.user)
    return render(request, "campaigns/template_list.html", {"templates": templates})


@login_required
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(templates_visible_to(request.user), pk=pk)
    refusal = template_edit_refusal(request.user, template)
    if request.method == "POST" and refusal:
        raise PermissionDenied(refusal)
    form = TemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        version = template_save(template=form.save(commit=False), actor=request.user)
        messages.success(request, f"“{template}” saved ({version.label}).")
        return redirect("templates:edit", pk=template.pk)
    context = {
        "template": template,
        "form": form,
        "contacts": contacts_visible_to(request.user).order_by("-id")[:50],
        "channels": Template._meta.get_field("channel").choices,
        "channel": template.channel or DEFAULT_CHANNEL,
        "ab": template_variant_stats(template=template),
        "versions": template.versions.select_related("created_by")[:10],
        "refusal": refusal,
    }
    return render(request, "campaigns/template_edit.html", context)


@login_required
@require_POST
def template_preview_view(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(templates_visible_to(request.user), pk=pk)
    form = PreviewForm(request.POST)
    form.is_valid()  # every field is optional; bad values fall back to defaults below
    data = form.cleaned_data
    channel = data.get("channel") or template.channel or DEFAULT_CHANNEL
    subject, body = data.get("subject") or "", data.get("body") or ""
    if data.get("sample"):
        previews = preview_sample(
            template=template,
            subject=subject,
            body=body,
            channel=channel,
            contacts=contacts_visible_to(request.user),
        )
    else:
        visible = contacts_visible_to(request.user)
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
def campaign_lint_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(campaigns_visible_to(request.user), pk=pk)
    report = campaign_lint(campaign=campaign)
    return render(request, "campaigns/campaign_lint.html", {"campaign": campaign, "report": report})
