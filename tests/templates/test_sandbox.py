"""Escapes that must fail: templates are user input."""

import time

import pytest

from campaigns.rendering import (
    MAX_OUTPUT,
    TemplateError,
    compile_template,
    contact_context,
    render,
)
from campaigns.template_language import MAX_DEPTH, MAX_SOURCE
from tests import factories

pytestmark = pytest.mark.django_db

ESCAPES = [
    "{{ __class__ }}",
    "{{ first_name.__class__ }}",
    "{{ first_name.__class__.__mro__ }}",
    "{{ contact._meta }}",
    "{{ _meta }}",
    "{{ contact.enrollments }}",
    "{{ enrollments.all }}",
    "{{ identities.all }}",
    "{{ contact.identities.all.0.contact }}",
    "{{ settings.SECRET_KEY }}",
    "{{ sender.credentials }}",
    "{{ custom.__class__ }}",
    "{{ request }}",
    "{{ contacts }}",
    "{{ first_name|safe }}",
    "{{ first_name.upper() }}",
    "{% load log %}",
    "{% include 'base.html' %}",
    "{% debug %}",
    "{% for c in contacts %}{{ c }}{% endfor %}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% if first_name.__class__ %}x{% endif %}",
    "{% if contact._meta %}x{% endif %}",
    "{{ first_name|default:settings.SECRET_KEY }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempts_do_not_compile(source):
    with pytest.raises(TemplateError):
        compile_template(source)


def test_context_holds_only_strings_never_objects():
    contact = factories.contact(custom_fields={"deal": {"secret": 1}, "n": 3})
    sender = factories.sender()
    ctx = contact_context(contact=contact, identity=contact.identities.first(), sender=sender)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in ctx.items())
    assert not any("credential" in k for k in ctx)
    assert ctx["custom.n"] == "3" and ctx["custom.deal"] == ""


def test_another_contact_is_out_of_reach():
    me = factories.contact(1, first_name="Me")
    factories.contact(2, first_name="Other")
    ctx = contact_context(contact=me)
    assert "Other" not in ctx.values()
    for source in ("{{ contact_2 }}", "{{ contacts.1.first_name }}", "{{ contact.pk }}"):
        with pytest.raises(TemplateError):
            compile_template(source)
    assert render("{{ custom.2 }}{{ full_name }}", ctx, seed="1") == "Me Tester"


def test_output_is_capped_and_values_clipped():
    contact = factories.contact(custom_fields={"big": "x" * 100_000})
    ctx = contact_context(contact=contact)
    assert len(ctx["custom.big"]) == 1_000
    source = "{{ custom.big }}" * 500  # would be 500,000 characters
    started = time.perf_counter()
    out = render(source, ctx, seed="1")
    assert len(out) == MAX_OUTPUT
    assert time.perf_counter() - started < 0.5


def test_huge_sources_and_deep_nesting_are_refused():
    with pytest.raises(TemplateError, match="longer than"):
        compile_template("x" * (MAX_SOURCE + 1))
    with pytest.raises(TemplateError, match="nested"):
        compile_template("{a|" * (MAX_DEPTH + 1) + "b" + "}" * (MAX_DEPTH + 1))


def test_worst_case_template_renders_fast():
    # No loops exist, so the largest allowed template is the worst case: linear time.
    source = ("{a|{b|c}} {% if first_name %}{{ first_name }}{% endif %} " * 400)[:MAX_SOURCE]
    source = source[: source.rfind(" {a")]
    compiled = compile_template(source)
    started = time.perf_counter()
    for n in range(20):
        compiled.render({"first_name": "Ana"}, str(n))
    assert (time.perf_counter() - started) / 20 < 0.05
