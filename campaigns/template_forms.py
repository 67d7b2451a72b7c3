from django import forms

from campaigns.models import Template
from campaigns.rendering import TemplateError, compile_template


def validate_template_text(value: str) -> None:
    """Text that does not compile (syntax, spintax, unknown variable) is never saved, so the
    dispatcher cannot meet it mid-campaign."""
    try:
        compile_template(value)
    except TemplateError as exc:
        raise forms.ValidationError(str(exc)) from exc


class TemplateForm(forms.ModelForm):
    class Meta:
        model = Template
        fields = ["name", "channel", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 12, "spellcheck": "true"})}

    def clean_subject(self) -> str:
        validate_template_text(self.cleaned_data["subject"])
        return self.cleaned_data["subject"]

    def clean_body(self) -> str:
        validate_template_text(self.cleaned_data["body"])
        return self.cleaned_data["body"]


class PreviewForm(forms.Form):
    """What the live preview is asked for; the text comes unsaved from the editor."""

    subject = forms.CharField(required=False, max_length=300)
    body = forms.CharField(required=False, strip=False)
    channel = forms.CharField(required=False, max_length=20)
    contact = forms.IntegerField(required=False)
    sample = forms.BooleanField(required=False)
