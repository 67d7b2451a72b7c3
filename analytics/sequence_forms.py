"""Forms of the sequence builder: one StepForm per step card and one AlternativeForm per
channel alternative, each under its own prefix (``s3``, ``s3-a1``). They validate input and
turn it into campaigns/sequence_builder.py's specs; the order of the cards is the order of
the ``step`` values posted, so no position is ever typed."""

from datetime import timedelta
from typing import cast

from django import forms
from django.forms.boundfield import BoundWidget

from campaigns.models import Sequence, Step, StepAlternative
from campaigns.sequence_builder import AlternativeSpec, NewTemplate, StepSpec
from campaigns.template_forms import validate_template_text
from outreach.channels.registry import channels

NEW = "new"
UNITS = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
UNIT_CHOICES = [(u, u) for u in UNITS]
# Shown on the channel buttons beside the name (decorative: the name is the label).
ICONS = {
    "email": "✉",
    "whatsapp": "✆",
    "instagram": "◎",
    "messenger": "❝",
    "x": "𝕏",
    "telegram": "✈",
    "linkedin": "in",
    "tiktok": "♪",
    "snapchat": "☺",
    "phone": "☎",
}


def delay_split(delay: timedelta) -> tuple[int, str]:
    """The delay in its largest whole unit: 2 days, not 48 hours (minutes at least)."""
    seconds = int(delay.total_seconds())
    for unit in ("weeks", "days", "hours"):
        if seconds and seconds % UNITS[unit] == 0:
            return seconds // UNITS[unit], unit
    return seconds // 60, "minutes"


def delay_words(delay: timedelta) -> str:
    n, unit = delay_split(delay)
    if n == 0:
        return "right away"
    return f"{n} {unit[:-1] if n == 1 else unit}"


def channel_choices() -> list[tuple[str, str]]:
    return [(key, c.label) for key, c in channels().items()]


def _select(field: forms.Field) -> None:
    field.widget.attrs["class"] = "form-select form-select-sm"


class SequenceForm(forms.ModelForm):
    class Meta:
        model = Sequence
        fields = ["name", "description"]
        widgets = {
            "name": forms.TextInput(attrs={"class": "form-control"}),
            "description": forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
        }


class StepForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    channel = forms.ChoiceField(widget=forms.RadioSelect(attrs={"class": "btn-check"}))
    delay_value = forms.IntegerField(min_value=0, max_value=10_000, initial=2, label="Wait")
    delay_unit = forms.ChoiceField(choices=UNIT_CHOICES, initial="days", label="Unit")
    # Step.Condition.choices as the model has them: a new condition appears here by itself.
    condition = forms.ChoiceField(
        choices=Step.Condition.choices, initial=Step.Condition.NO_REPLY, label="Send"
    )
    condition_channel = forms.ChoiceField(required=False, label="Identity on")
    business_days = forms.BooleanField(required=False, label="Business days only (Mon–Fri)")
    on_refused = forms.ChoiceField(
        choices=Step.OnRefused.choices, initial=Step.OnRefused.HOLD, label="If refused"
    )
    template = forms.ChoiceField(label="Template")
    name = forms.CharField(required=False, max_length=200, label="New template's name")
    subject = forms.CharField(required=False, max_length=300)
    body = forms.CharField(
        required=False, strip=False, label="Message", widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args, templates: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["channel"]).choices = channel_choices()
        cast(forms.ChoiceField, self.fields["condition_channel"]).choices = [
            ("", "—"),
            *channel_choices(),
        ]
        template = cast(forms.ChoiceField, self.fields["template"])
        template.choices = [(NEW, "✎ Write a new template"), *templates]
        self.fields["delay_value"].widget.attrs["class"] = "form-control form-control-sm"
        self.fields["business_days"].widget.attrs["class"] = "form-check-input"
        for name in ("delay_unit", "condition", "condition_channel", "on_refused", "template"):
            _select(self.fields[name])
        for name in ("name", "subject", "body"):
            self.fields[name].widget.attrs["class"] = "form-control form-control-sm"

    def clean_subject(self) -> str:
        validate_template_text(self.cleaned_data["subject"])
        return self.cleaned_data["subject"]

    def clean_body(self) -> str:
        validate_template_text(self.cleaned_data["body"])
        return self.cleaned_data["body"]

    def clean(self):
        data = super().clean() or {}
        if data.get("template") == NEW and not (data.get("body") or "").strip():
            self.add_error("body", "Write the message, or pick a template.")
        return data

    def delay_shown(self) -> str:
        """The card's delay in words ("after 2 days"), from what it holds now."""
        value, unit = self["delay_value"].value(), self["delay_unit"].value()
        try:
            delay = timedelta(seconds=int(value) * UNITS[unit])
        except (TypeError, ValueError, KeyError):
            return ""
        words = delay_words(delay)
        return words if delay <= timedelta(0) else f"after {words}"

    def channel_buttons(self) -> list[tuple[BoundWidget, str]]:
        return [(radio, ICONS.get(radio.data["value"], "•")) for radio in self["channel"]]

    def spec(self, alternatives: list[AlternativeSpec]) -> StepSpec:
        data = self.cleaned_data
        new = data["template"] == NEW
        return StepSpec(
            id=data.get("id"),
            channel=data["channel"],
            delay=timedelta(seconds=data["delay_value"] * UNITS[data["delay_unit"]]),
            condition=data["condition"],
            condition_channel=data.get("condition_channel") or "",
            business_days=bool(data.get("business_days")),
            on_refused=data["on_refused"],
            template_id=None if new else int(data["template"]),
            new_template=NewTemplate(data["name"], data["subject"], data["body"]) if new else None,
            alternatives=alternatives,
        )


class AlternativeForm(forms.Form):
    channel = forms.ChoiceField(label="Then try")
    template = forms.ChoiceField(label="with")

    def __init__(self, *args, templates: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["channel"]).choices = channel_choices()
        cast(forms.ChoiceField, self.fields["template"]).choices = templates
        _select(self.fields["channel"])
        _select(self.fields["template"])

    def spec(self) -> AlternativeSpec:
        return AlternativeSpec(self.cleaned_data["channel"], int(self.cleaned_data["template"]))


def step_initial(step: Step) -> dict:
    n, unit = delay_split(step.delay)
    return {
        "id": step.id,
        "channel": step.channel,
        "delay_value": n,
        "delay_unit": unit,
        "condition": step.condition,
        "condition_channel": step.condition_channel,
        "business_days": step.business_days,
        "on_refused": step.on_refused,
        "template": str(step.template_id),
    }


def alternative_initial(alternative: StepAlternative) -> dict:
    return {"channel": alternative.channel, "template": str(alternative.template_id)}
