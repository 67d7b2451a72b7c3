"""The triggers dashboard: each trigger with its numbers, and a form to add one."""

from dataclasses import dataclass
from typing import cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from campaigns.access import campaigns_visible_to, triggers_visible_to
from campaigns.triggers.models import Trigger, TriggerFire
from outreach.access import senders_visible_to

F = TriggerFire.Outcome


class TriggerForm(forms.ModelForm):
    class Meta:
        model = Trigger
        fields = [
            "name", "channel", "sender", "event_type", "post_id", "address", "match",
            "keywords", "pattern", "reply_body", "public_replies", "public_reply_order", "tags",
            "record_consent", "campaign", "start_step", "deal_stage", "assign_team", "cooldown",
        ]  # fmt: skip
        widgets = {
            "keywords": forms.Textarea(attrs={"rows": 2}),
            "reply_body": forms.Textarea(attrs={"rows": 3}),
            "public_replies": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if user is not None:
            # Only campaigns and accounts the user may see: a rep must not enrol leads into
            # someone else's campaign or answer from someone else's account.
            cast(forms.ModelChoiceField, self.fields["campaign"]).queryset = campaigns_visible_to(
                user
            )
            cast(forms.ModelChoiceField, self.fields["sender"]).queryset = senders_visible_to(user)


@dataclass
class TriggerStats:
    trigger: Trigger
    matched: int
    replies_sent: int
    public_replies_sent: int
    leads: int
    enrolled: int
    replied: int
    converted: int


def trigger_stats(triggers: QuerySet[Trigger] | None = None) -> list[TriggerStats]:
    # Every count is of distinct fires: the won-deals join repeats a fire once per deal of
    # its contact, which would count a contact with two deals twice in every column.
    sent = ["sent", "delivered", "read"]
    rows = (Trigger.objects.all() if triggers is None else triggers).annotate(
        matched=Count("fires", distinct=True),
        replies_sent=Count("fires", filter=Q(fires__reply__status__in=sent), distinct=True),
        public_replies_sent=Count(
            "fires", filter=Q(fires__public_reply__status__in=sent), distinct=True
        ),
        leads=Count("fires", filter=Q(fires__new_lead=True, fires__outcome=F.FIRED), distinct=True),
        enrolled=Count("fires", filter=Q(fires__enrollment__isnull=False), distinct=True),
        replied=Count("fires", filter=Q(fires__enrollment__state="replied"), distinct=True),
        converted=Count("fires", filter=Q(fires__contact__deals__stage__kind="won"), distinct=True),
    )
    return [
        TriggerStats(
            t,
            t.matched,
            t.replies_sent,
            t.public_replies_sent,
            t.leads,
            t.enrolled,
            t.replied,
            t.converted,
        )
        for t in rows
    ]


@login_required
def trigger_list(request: HttpRequest) -> HttpResponse:
    form = TriggerForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("triggers:list")
    stats = trigger_stats(triggers_visible_to(request.user))
    return render(request, "campaigns/triggers/list.html", {"form": form, "stats": stats})
