"""Pathological template text: every parse failure is a TemplateError with a clear message,
never a RecursionError (which would fail whatever renders it)."""

import pytest

from campaigns.rendering import TemplateError, compile_template, render
from campaigns.template_language import MAX_SOURCE

DEEP_PARENS = "{% if " + "(" * 5000 + "first_name" + ")" * 5000 + " %}x{% endif %}"


def test_five_thousand_nested_parentheses_are_a_template_error():
    with pytest.raises(TemplateError, match=r"nested too deeply \(limit 50\)"):
        compile_template(DEEP_PARENS)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% if " + "not " * 3000 + "company %}x{% endif %}", r"nested too deeply"),
        ("{% if " + " and ".join(["company"] * 1000) + " %}x{% endif %}", r"too many terms"),
        ("{% if " + " or ".join(["(title)"] * 1000) + " %}x{% endif %}", r"too many terms"),
        ("x" * (MAX_SOURCE + 1), r"longer than"),
    ],
)
def test_long_or_deep_conditions_and_long_bodies_are_template_errors(source, message):
    with pytest.raises(TemplateError, match=message):
        compile_template(source)


def test_conditions_within_the_limits_still_render():
    source = "{% if " + "(" * 40 + "company" + ")" * 40 + " and not not title %}yes{% endif %}"
    assert render(source, {"company": "Acme", "title": "CTO"}, seed="s") == "yes"
