"""The sequence builder outside the admin: the list of the user's sequences and one page to
build or change a sequence (campaigns/sequence_builder.py saves it).

The page works without JavaScript: adding, removing and moving a step or an alternative is
a submit button that re-renders the page from what was posted (nothing is saved until
"Save"). static/campaigns/sequence_builder.js adds dragging and instant up/down moves; either
way the order of the posted cards is the order of the steps."""

import re
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from analytics.sequence_forms import (
    NEW,
    AlternativeForm,
    SequenceForm,
    StepForm,
    alternative_initial,
    delay_words,
    step_initial,
)
from campaigns.access import sequence_edit_refusal, sequences_visible_to, templates_visible_to
from campaigns.models import Campaign, Sequence, Step
from campaigns.sequence_builder import SequenceError, sequence_save
from deliverability.access import whatsapp_templates_visible_to

KEY, ALT_KEY = re.compile(r"s\d{1,4}"), re.compile(r"a\d{1,3}")
MAX_STEPS = 30


@dataclass
class Card:
    key: str
    form: StepForm
    alternatives: list[tuple[str, AlternativeForm]] = field(default_factory=list)


def _keys(values: list[str], pattern: re.Pattern) -> list[str]:
    return list(dict.fromkeys(v for v in values if pattern.fullmatch(v)))


def _next(keys, letter: str) -> str:
    return f"{letter}{max((int(k[1:]) for k in keys), default=0) + 1}"


def _posted(data: QueryDict, templates, wa_templates) -> list[Card]:
    cards = []
    for key in _keys(data.getlist("step"), KEY)[:MAX_STEPS]:
        alts = [
            (a, AlternativeForm(data, prefix=f"{key}-{a}", templates=templates))
            for a in _keys(data.getlist(f"{key}-alts"), ALT_KEY)
        ]
        form = StepForm(data, prefix=key, templates=templates, wa_templates=wa_templates)
        cards.append(Card(key, form, alts))
    return cards


def _saved(sequence: Sequence, templates, wa_templates) -> list[Card]:
    cards, t = [], {"templates": templates}
    steps = sequence.steps.prefetch_related("alternatives").order_by("position")
    for n, step in enumerate(steps, start=1):
        key = f"s{n}"
        alts = [
            (f"a{m}", AlternativeForm(initial=alternative_initial(a), prefix=f"{key}-a{m}", **t))
            for m, a in enumerate(step.alternatives.all(), start=1)
        ]
        form = StepForm(initial=step_initial(step), prefix=key, wa_templates=wa_templates, **t)
        cards.append(Card(key, form, alts))
    return cards


def _blank(key: str, first: bool, templates, wa_templates) -> Card:
    initial = {"channel": "email", "delay_value": 0 if first else 2, "delay_unit": "days"}
    form = StepForm(
        initial=initial | {"template": NEW},
        prefix=key,
        templates=templates,
        wa_templates=wa_templates,
    )
    return Card(key, form)


def _edit(cards: list[Card], post: QueryDict, templates, wa_templates) -> bool:
    """Apply an add / remove / move button to the cards; False when the button was Save."""
    by_key = {c.key: c for c in cards}
    if "refresh" in post:  # a WhatsApp template was picked: show its variables
        return True
    if "add" in post and len(cards) < MAX_STEPS:
        cards.append(_blank(_next(by_key, "s"), not cards, templates, wa_templates))
    elif "remove" in post:
        cards[:] = [c for c in cards if c.key != post["remove"]]
    elif "move" in post:
        key, _, way = post.get("move", "").partition(":")
        if key in by_key:
            i = cards.index(by_key[key])
            j = i - 1 if way == "up" else i + 1
            if 0 <= j < len(cards):
                cards[i], cards[j] = cards[j], cards[i]
    elif "add_alt" in post and post["add_alt"] in by_key:
        card = by_key[post["add_alt"]]
        akey = _next([a for a, _ in card.alternatives], "a")
        card.alternatives.append(
            (akey, AlternativeForm(prefix=f"{card.key}-{akey}", templates=templates))
        )
    elif "remove_alt" in post:
        key, _, akey = post.get("remove_alt", "").partition(":")
        if key in by_key:
            card = by_key[key]
            card.alternatives = [(a, f) for a, f in card.alternatives if a != akey]
    else:
        return False
    return True


def _specs(cards: list[Card]):
    """Every card's spec, or None when a form has errors (shown on its card)."""
    forms = [c.form for c in cards] + [f for c in cards for _, f in c.alternatives]
    if not all([f.is_valid() for f in forms]):  # a list: every form shows its errors
        return None
    return [c.form.spec([f.spec() for _, f in c.alternatives]) for c in cards]


@login_required
def sequence_list(request: HttpRequest) -> HttpResponse:
    sequences = (
        sequences_visible_to(request.user)
        .annotate(
            live=Count(
                "campaigns", filter=~Q(campaigns__status=Campaign.Status.DRAFT), distinct=True
            )
        )
        .prefetch_related(Prefetch("steps", queryset=Step.objects.order_by("position")))
        .order_by("name")
    )
    rows = [(s, [(step, delay_words(step.delay)) for step in s.steps.all()]) for s in sequences]
    return render(request, "analytics/sequences.html", {"rows": rows})


@login_required
def sequence_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    sequence = get_object_or_404(sequences_visible_to(request.user), pk=pk) if pk else None
    refusal = sequence_edit_refusal(request.user, sequence) if sequence else ""
    if request.method == "POST" and refusal:
        raise PermissionDenied(refusal)
    templates = [(str(t.pk), t.name) for t in templates_visible_to(request.user).order_by("name")]
    wa_templates = {
        str(t.pk): t
        for t in whatsapp_templates_visible_to(request.user).order_by("name", "language")
    }
    back = (request.POST or request.GET).get("for") == "campaign"
    form = SequenceForm(request.POST or None, instance=sequence)
    errors: list[str] = []
    if request.method == "POST":
        cards = _posted(request.POST, templates, wa_templates)
        if not _edit(cards, request.POST, templates, wa_templates) and form.is_valid():
            specs = _specs(cards)
            if specs is not None:
                try:
                    saved = sequence_save(
                        sequence=sequence,
                        name=form.cleaned_data["name"],
                        description=form.cleaned_data["description"],
                        steps=specs,
                        actor=request.user,
                    )
                except SequenceError as exc:
                    errors = exc.errors
                else:
                    messages.success(request, f"“{saved}” saved.")
                    if back:
                        return redirect(f"{reverse('dashboards:builder')}?sequence={saved.pk}")
                    return redirect("sequences:edit", pk=saved.pk)
            else:
                errors = ["Some steps need attention: see the messages on them."]
    else:
        cards = (
            _saved(sequence, templates, wa_templates)
            if sequence
            else [_blank("s1", True, templates, wa_templates)]
        )
    live = (
        Campaign.objects.filter(sequence=sequence).exclude(status=Campaign.Status.DRAFT).count()
        if sequence
        else 0
    )
    context = {
        "sequence": sequence,
        "form": form,
        "cards": cards,
        "errors": errors,
        "refusal": refusal,
        "live": live,
        "back": back,
        "max_steps": MAX_STEPS,
    }
    return render(request, "analytics/sequence_builder.html", context)
