"""The triggers dashboard: each trigger with its numbers, and a form to add one."""

from dataclasses import dataclass

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from campaigns.triggers.models import Trigger, TriggerFire

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


def trigger_stats() -> list[TriggerStats]:
    rows = Trigger.objects.annotate(
        matched=Count("fires"),
        replies_sent=Count(
            "fires", filter=Q(fires__reply__status__in=["sent", "delivered", "read"])
        ),
        public_replies_sent=Count(
            "fires", filter=Q(fires__public_reply__status__in=["sent", "delivered", "read"])
        ),
        leads=Count("fires", filter=Q(fires__new_lead=True, fires__outcome=F.FIRED)),
        enrolled=Count("fires", filter=Q(fires__enrollment__isnull=False)),
        replied=Count("fires", filter=Q(fires__enrollment__state="replied")),
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


@staff_member_required
def trigger_list(request: HttpRequest) -> HttpResponse:
    form = TriggerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("triggers:list")
    return render(request, "campaigns/triggers/list.html", {"form": form, "stats": trigger_stats()})
