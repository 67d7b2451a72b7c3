"""Account pages: password change and reset (Django's views, our templates), invitations
and API tokens. The login view is Django's too, with config/login.py's form."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from contacts.accounts_forms import ApiTokenForm, InvitationForm
from contacts.invitations import (
    UsernameTaken,
    invitation_accept,
    invitation_create,
    invitation_from_token,
    invitation_revoke,
    invitations_visible_to,
    roles_invitable_by,
)
from core.api_tokens import api_token_create, api_token_revoke, api_tokens_of

BACKEND = "config.security.ThrottledModelBackend"


def user_menu(request: HttpRequest) -> dict:
    """Context processor: whether the navbar's user menu offers "Invite people"."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"may_invite": bool(roles_invitable_by(user))}


class PasswordResetView(auth_views.PasswordResetView):
    """The emailed link starts with PUBLIC_URL (as invitation and unsubscribe links do),
    not with the Host header of whoever asked for the reset."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"

    def form_valid(self, form):
        self.extra_email_context = {"public_url": settings.PUBLIC_URL.rstrip("/")}
        return super().form_valid(form)


@login_required
def invitations(request: HttpRequest) -> HttpResponse:
    if not roles_invitable_by(request.user):
        raise PermissionDenied
    form = InvitationForm(request.POST or None, inviter=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        invitation = invitation_create(
            inviter=request.user, email=data["email"], role=data["role"], team=data["team"]
        )
        messages.success(request, f"Invitation sent to {invitation.email}.")
        return redirect("invitations")
    pending = invitations_visible_to(request.user).filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    )
    return render(request, "accounts/invitations.html", {"form": form, "pending": pending})


@login_required
@require_POST
def invitation_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(invitations_visible_to(request.user), pk=pk)
    invitation_revoke(invitation=invitation)
    messages.success(request, f"The invitation of {invitation.email} is withdrawn.")
    return redirect("invitations")


def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitation_from_token(token)
    problem = "This invitation link is not valid." if invitation is None else invitation.problem
    if invitation is None or problem:
        return render(request, "accounts/invitation_invalid.html", {"problem": problem}, status=410)
    form: UserCreationForm[Any] = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_accept(
                invitation=invitation,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except UsernameTaken as exc:
            form.add_error("username", exc.messages[0])
        except ValidationError as exc:  # used or withdrawn meanwhile
            return render(
                request,
                "accounts/invitation_invalid.html",
                {"problem": exc.messages[0]},
                status=410,
            )
        else:
            login(request, user, backend=BACKEND)
            messages.success(request, f"Welcome, {user.get_username()}.")
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(
        request, "accounts/invitation_accept.html", {"form": form, "invitation": invitation}
    )


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    key = None
    if request.method == "POST" and form.is_valid():
        # The key is rendered in this response only, never stored nor put in a message.
        _, key = api_token_create(
            user=request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
        )
        form = ApiTokenForm()
    return render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "key": key, "tokens": api_tokens_of(request.user)},
    )


@login_required
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(api_tokens_of(request.user), pk=pk)
    if request.method == "POST":
        api_token_revoke(token=token)
        messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
        return redirect("api_tokens")
    return render(request, "accounts/api_token_revoke.html", {"token": token})
