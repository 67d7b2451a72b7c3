"""The triggers dashboard: each trigger with its numbers, and a form to add one."""

from dataclasses import dataclass
from typing import cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from campaigns.access import (
    campaigns_visible_to,
    may_add_triggers,
    trigger_teams_of,
    triggers_visible_to,
)
from campaigns.triggers.models import Trigger, TriggerFire
from outreach.access import senders_visible_to

F = TriggerFire.Outcome


class TriggerForm(forms.ModelForm):
    class Meta:
        model = Trigger
        fields = [
            "name", "team", "channel", "sender", "event_type", "post_id", "address", "match",
            "keywords", "pattern", "reply_body", "public_replies", "public_reply_order", "tags",
            "record_consent", "campaign", "start_step", "deal_stage", "assign_team", "cooldown",
        ]  # fmt: skip
        widgets = {
            "keywords": forms.Textarea(attrs={"rows": 2}),
            "reply_body": forms.Textarea(attrs={"rows": 3}),
            "public_replies": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only what the user may pick: the teams they manage (every team for an admin), and
        # campaigns and accounts they see; a trigger must not enrol leads into someone
        # else's campaign, answer from someone else's account or feed another team's reps.
        teams = trigger_teams_of(user)
        fields = {name: cast(forms.ModelChoiceField, self.fields[name]) for name in self.fields}
        fields["team"].queryset = teams
        fields["team"].required = True
        fields["assign_team"].queryset = teams
        fields["campaign"].queryset = campaigns_visible_to(user)
        fields["sender"].queryset = senders_visible_to(user)
        if teams.count() == 1:
            self.fields["team"].initial = teams.get()


@dataclass
class TriggerStats:
    trigger: Trigger
    matched: int
    replies_sent: int
    public_replies_sent: int
    leads: int
    skipped: int
    enrolled: int
    replied: int
    converted: int


def trigger_stats(triggers: QuerySet[Trigger] | None = None) -> list[TriggerStats]:
    # Every count is of distinct fires: the won-deals join repeats a fire once per deal of
    # its contact, which would count a contact with two deals twice in every column.
    sent = ["sent", "delivered", "read"]
    rows = (
        (Trigger.objects.all() if triggers is None else triggers)
        .select_related("team")
        .annotate(
            matched=Count("fires", distinct=True),
            replies_sent=Count("fires", filter=Q(fires__reply__status__in=sent), distinct=True),
            public_replies_sent=Count(
                "fires", filter=Q(fires__public_reply__status__in=sent), distinct=True
            ),
            leads=Count(
                "fires", filter=Q(fires__new_lead=True, fires__outcome=F.FIRED), distinct=True
            ),
            skipped=Count("fires", filter=Q(fires__outcome=F.SKIPPED), distinct=True),
            enrolled=Count("fires", filter=Q(fires__enrollment__isnull=False), distinct=True),
            replied=Count("fires", filter=Q(fires__enrollment__state="replied"), distinct=True),
            converted=Count(
                "fires", filter=Q(fires__contact__deals__stage__kind="won"), distinct=True
            ),
        )
    )
    return [
        TriggerStats(
            t,
            t.matched,
            t.replies_sent,
            t.public_replies_sent,
            t.leads,
            t.skipped,
            t.enrolled,
            t.replied,
            t.converted,
        )
        for t in rows
    ]


@login_required
def trigger_list(request: HttpRequest) -> HttpResponse:
    """Everyone sees their teams' triggers; managers (for their teams) and admins add them."""
    may_create = may_add_triggers(request.user)
    if request.method == "POST" and not may_create:
        raise PermissionDenied("Only a manager or an admin creates triggers.")
    form = TriggerForm(request.POST or None, user=request.user) if may_create else None
    if form is not None and request.method == "POST" and form.is_valid():
        form.save()
        return redirect("triggers:list")
    stats = trigger_stats(triggers_visible_to(request.user))
    return render(request, "campaigns/triggers/list.html", {"form": form, "stats": stats})
