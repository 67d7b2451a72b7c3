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
from campaigns.whatsapp_params import CUSTOM, SOURCES, TEXT, VARIABLE, template_body
from deliverability.models import WhatsAppTemplate
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

    wa_template = forms.ChoiceField(required=False, label="WhatsApp template (synced from Meta)")

    def __init__(
        self,
        *args,
        templates: list[tuple[str, str]],
        wa_templates: dict[str, WhatsAppTemplate] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.wa_templates = wa_templates or {}
        cast(forms.ChoiceField, self.fields["wa_template"]).choices = [
            ("", "— none: send the message below —"),
            *((key, wa_label(t)) for key, t in self.wa_templates.items()),
        ]
        self.picked = self.wa_templates.get(str(self["wa_template"].value() or ""))
        for v in self.picked.variables if self.picked else []:
            # Not required: a template just picked comes back with its rows unfilled, and
            # an unset source is the first one the select shows (see mapping()).
            self.fields[f"var_{v}_source"] = forms.ChoiceField(
                choices=SOURCES, required=False, label=f"{{{{{v}}}}} comes from"
            )
            self.fields[f"var_{v}_text"] = forms.CharField(
                required=False, max_length=200, label=f"Key or text for {{{{{v}}}}}"
            )
            self.fields[f"var_{v}_fallback"] = forms.CharField(
                required=False, max_length=200, label=f"If {{{{{v}}}}} is empty, send"
            )
            _select(self.fields[f"var_{v}_source"])
            for part in ("text", "fallback"):
                self.fields[f"var_{v}_{part}"].widget.attrs["class"] = (
                    "form-control form-control-sm"
                )
        cast(forms.ChoiceField, self.fields["channel"]).choices = channel_choices()
        cast(forms.ChoiceField, self.fields["condition_channel"]).choices = [
            ("", "—"),
            *channel_choices(),
        ]
        template = cast(forms.ChoiceField, self.fields["template"])
        template.choices = [(NEW, "✎ Write a new template"), *templates]
        self.fields["delay_value"].widget.attrs["class"] = "form-control form-control-sm"
        self.fields["business_days"].widget.attrs["class"] = "form-check-input"
        for name in (
            "delay_unit",
            "condition",
            "condition_channel",
            "on_refused",
            "template",
            "wa_template",
        ):
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
        picked = self.wa_templates.get(data.get("wa_template") or "")
        if picked and data.get("channel") != "whatsapp":
            self.add_error("wa_template", "A WhatsApp template goes only with a WhatsApp step.")
        if data.get("template") == NEW and not (data.get("body") or "").strip() and not picked:
            self.add_error("body", "Write the message, or pick a template.")
        for v in picked.variables if picked else []:
            source = data.get(f"var_{v}_source")
            if source in (CUSTOM, TEXT) and not (data.get(f"var_{v}_text") or "").strip():
                what = "the custom field's key" if source == CUSTOM else "the text to send"
                self.add_error(f"var_{v}_text", f"Write {what}.")
        return data

    def variable_rows(
        self,
    ) -> list[tuple[str, forms.BoundField, forms.BoundField, forms.BoundField]]:
        """One row per variable of the picked WABA template: where its value comes from."""
        return [
            (v, self[f"var_{v}_source"], self[f"var_{v}_text"], self[f"var_{v}_fallback"])
            for v in (self.picked.variables if self.picked else [])
        ]

    def mapping(self) -> dict[str, dict[str, str]]:
        data = self.cleaned_data
        return {
            v: {
                "source": data[f"var_{v}_source"] or SOURCES[0][0],
                "text": data[f"var_{v}_text"].strip(),
                "fallback": data[f"var_{v}_fallback"],
            }
            for v in (self.picked.variables if self.picked else [])
        }

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
        picked = self.wa_templates.get(data.get("wa_template") or "")
        text = NewTemplate(data["name"], data["subject"], data["body"]) if new else None
        if picked and text is not None and not text.body.strip():
            # The step sends the WABA template; the text kept beside it is its body, for
            # previews and the inbox ({{1}} written as [1]: it is Meta's variable, not ours).
            body = VARIABLE.sub(r"[\1]", template_body(picked)) or picked.name
            text = NewTemplate(text.name or f"{picked.name} ({picked.language})", "", body)
        return StepSpec(
            id=data.get("id"),
            channel=data["channel"],
            delay=timedelta(seconds=data["delay_value"] * UNITS[data["delay_unit"]]),
            condition=data["condition"],
            condition_channel=data.get("condition_channel") or "",
            business_days=bool(data.get("business_days")),
            on_refused=data["on_refused"],
            template_id=None if new else int(data["template"]),
            new_template=text,
            alternatives=alternatives,
            whatsapp_template_id=picked.id if picked else None,
            whatsapp_variables=self.mapping() if picked else {},
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


def wa_label(t: WhatsAppTemplate) -> str:
    return f"{t.name} · {t.get_category_display()} · {t.language} · {t.status.capitalize()}"


def step_initial(step: Step) -> dict:
    n, unit = delay_split(step.delay)
    variables: dict[str, str] = {}
    for v, rule in (step.whatsapp_variables or {}).items():
        if isinstance(rule, dict):
            variables |= {f"var_{v}_{part}": rule.get(part, "") for part in ("source", "text")}
            variables[f"var_{v}_fallback"] = rule.get("fallback", "")
    return variables | {
        "wa_template": str(step.whatsapp_template_id or ""),
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
