"""The ESP webhooks we accept: anymail's views (anymail/urls.py) for the ESPs a sender can
send through, each refusing with 403 what it cannot verify (anymail answers 400) and while
its ESP's key is not configured (anymail would answer 500, and the ESP retry for days)."""

from collections.abc import Callable
from functools import wraps

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.urls import urlpatterns as anymail_urlpatterns
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import URLPattern

ESPS = ("postmark", "mailgun", "sendgrid", "brevo", "amazon_ses")


def _refusing(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def verified(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (AnymailWebhookValidationFailure, AnymailConfigurationError):
            return HttpResponseForbidden()

    return verified


app_name = "anymail"
urlpatterns = [
    URLPattern(p.pattern, _refusing(p.callback), p.default_args, p.name)
    for p in anymail_urlpatterns
    if isinstance(p, URLPattern) and str(p.name or "").startswith(ESPS)
]
