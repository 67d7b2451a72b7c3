"""Saved replies: the page that manages them and the inbox's "insert" endpoint, which renders
one for a contact with the campaign template language (campaigns/rendering.py), so the same
variables and fallbacks work as in templates. Here because outreach sits below campaigns."""

from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from campaigns.rendering import TemplateError, compile_template, contact_context, plain_text
from campaigns.rendering import render as render_text
from contacts.access import contacts_visible_to
from contacts.models import Contact
from core.access import ADMIN, MANAGER, role_of
from core.teams import Team
from outreach.access import saved_replies_editable_by, saved_replies_visible_to
from outreach.inbox.models import SavedReply
from outreach.inbox.targets import reply_targets
from outreach.selectors import contact_conversations


def teams_for_saved_replies(user):
    """Teams a user may file a saved reply under: an admin any, a manager those they manage,
    a rep those they belong to."""
    role = role_of(user)
    if role == ADMIN:
        return Team.objects.all()
    if role == MANAGER:
        return Team.objects.filter(managers=user)
    return Team.objects.filter(members=user)


class SavedReplyForm(forms.ModelForm):
    class Meta:
        model = SavedReply
        fields = ["name", "body", "team"]
        widgets = {"body": forms.Textarea(attrs={"rows": 5})}
        help_texts = {
            "body": 'Variables as in templates, with fallbacks: {{ first_name|default:"there" }}.'
        }

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        team = cast(forms.ModelChoiceField, self.fields["team"])
        team.queryset = teams_for_saved_replies(user)
        # Only managers and admins share a reply with every team.
        shared = role_of(user) in (ADMIN, MANAGER)
        team.required = not shared
        team.empty_label = "Every team" if shared else None

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        try:
            compile_template(body)
        except TemplateError as e:
            raise forms.ValidationError(str(e)) from None
        return body


@login_required
def saved_reply_list(request: HttpRequest) -> HttpResponse:
    replies = saved_replies_visible_to(request.user).select_related("team", "created_by")
    editable = set(saved_replies_editable_by(request.user).values_list("pk", flat=True))
    return render(
        request,
        "analytics/saved_replies.html",
        {"replies": replies, "editable": editable},
    )


@login_required
@require_http_methods(["GET", "POST"])
def saved_reply_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    reply = get_object_or_404(saved_replies_editable_by(request.user), pk=pk) if pk else None
    form = SavedReplyForm(request.POST or None, instance=reply, user=request.user)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if reply is None:
            saved.created_by = request.user
        saved.save()
        messages.success(request, f"Saved reply “{saved.name}” saved.")
        return redirect("saved_replies:list")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "reply": reply}
    return render(request, "analytics/saved_reply_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def saved_reply_delete(request: HttpRequest, pk: int) -> HttpResponse:
    reply = get_object_or_404(saved_replies_editable_by(request.user), pk=pk)
    if request.method == "POST":
        reply.delete()
        messages.success(request, f"Saved reply “{reply.name}” deleted.")
        return redirect("saved_replies:list")
    return render(request, "analytics/saved_reply_delete.html", {"reply": reply})


def _contact(user, contact_id: int) -> Contact:
    """A contact the user sees, or one of whose conversations they see (assigned to them)."""
    if not (
        contacts_visible_to(user).filter(pk=contact_id).exists()
        or contact_conversations(user=user, contact_id=contact_id).exists()
    ):
        raise Http404("No such contact.")
    return Contact.objects.get(pk=contact_id)


@login_required
@require_GET
def saved_reply_render(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The reply box's textarea, filled with the saved reply rendered for this contact on the
    channel the switcher names (its sender's name and the contact's handle there)."""
    contact = _contact(request.user, contact_id)
    chosen = request.GET.get("saved_reply", "")
    text = ""
    if chosen.isdigit():
        reply = get_object_or_404(saved_replies_visible_to(request.user), pk=int(chosen))
        targets = {t.key: t for t in reply_targets(user=request.user, contact_id=contact.pk)}
        target = targets.get(request.GET.get("to", ""))
        identity = contact.identities.filter(pk=target.identity_id).first() if target else None
        sender = target.conversation.sender if target and target.conversation else None
        identities = dict(contact.identities.values_list("channel", "value"))
        context = contact_context(
            contact=contact, identity=identity, sender=sender, identities=identities
        )
        try:
            text = plain_text(render_text(reply.body, context, seed=f"saved:{reply.pk}"))
        except TemplateError:
            text = reply.body
    return render(request, "analytics/_saved_reply_body.html", {"text": text})
