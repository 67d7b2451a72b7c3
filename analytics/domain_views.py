"""Sending domains pages: each domain's SPF, DKIM, DMARC and alignment in words with the
record to publish, "Check now", "Generate DKIM key" and the strict switch. Thin: the
services are deliverability/services.py; here because pages sit above deliverability."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from deliverability.access import domains_changeable_by, domains_visible_to
from deliverability.models import SendingDomain
from deliverability.services import (
    domain_check,
    domain_key_generate,
    domain_paused_senders,
    domain_resume,
    domain_strict_set,
    domains_discover,
)
from outreach.access import senders_visible_to

LABELS = {"spf": "SPF", "dkim": "DKIM", "dmarc": "DMARC", "alignment": "Alignment"}
WORDS = {"pass": "Passing", "fail": "Failing", "missing": "Missing"}


def _rows(domain: SendingDomain) -> list[dict]:
    return [
        {"key": key, "label": LABELS[key], **domain.results[key]}
        | {"word": WORDS.get(domain.results[key]["status"], "")}
        for key in SendingDomain.RECORDS
        if key in domain.results
    ]


@login_required
def domain_list(request: HttpRequest) -> HttpResponse:
    # Senders added since the last daily check show up at once.
    domains_discover(senders_visible_to(request.user).filter(channel="email"))
    domains = list(domains_visible_to(request.user))
    rows = [(d, _rows(d)) for d in domains]
    return render(request, "analytics/domains.html", {"rows": rows})


@login_required
def domain_detail(request: HttpRequest, pk: int) -> HttpResponse:
    domain = get_object_or_404(domains_visible_to(request.user), pk=pk)
    may_change = domains_changeable_by(request.user).filter(pk=pk).exists()
    return render(
        request,
        "analytics/domain.html",
        {
            "domain": domain,
            "rows": _rows(domain),
            "may_change": may_change,
            "paused": list(domain_paused_senders(domain)),
        },
    )


def _changeable(request: HttpRequest, pk: int) -> SendingDomain:
    return get_object_or_404(domains_changeable_by(request.user), pk=pk)


@login_required
@require_POST
def domain_check_now(request: HttpRequest, pk: int) -> HttpResponse:
    domain = domain_check(domain=get_object_or_404(domains_visible_to(request.user), pk=pk))
    messages.success(request, f"{domain.domain} checked just now.")
    return redirect("domains:detail", pk=pk)


@login_required
@require_POST
def domain_generate_key(request: HttpRequest, pk: int) -> HttpResponse:
    domain = domain_key_generate(domain=_changeable(request, pk), actor=request.user)
    messages.success(
        request,
        f"New DKIM key for {domain.domain}: publish the DKIM record below; mail is signed "
        "with it from now on.",
    )
    return redirect("domains:detail", pk=pk)


@login_required
@require_POST
def domain_strict(request: HttpRequest, pk: int) -> HttpResponse:
    strict = request.POST.get("strict") == "on"
    domain = domain_strict_set(domain=_changeable(request, pk), strict=strict, actor=request.user)
    messages.success(
        request,
        f"{domain.domain}: launches are "
        + ("blocked while it fails." if strict else "only warned while it fails."),
    )
    return redirect("domains:detail", pk=pk)


@login_required
@require_POST
def domain_resume_senders(request: HttpRequest, pk: int) -> HttpResponse:
    handles = domain_resume(domain=_changeable(request, pk), actor=request.user)
    if handles:
        messages.success(request, f"Resumed {len(handles)} sender(s): {', '.join(handles)}.")
    else:
        messages.info(request, "No sender on this domain was paused for the domain.")
    return redirect("domains:detail", pk=pk)
