"""A rep edits a template, watches the live preview change for a chosen contact, and sees a
lint warning, in a real Chromium."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Template
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_rep_edits_template_and_sees_live_preview_and_lint(logged_in_page):
    page = logged_in_page
    factories.contact(1, first_name="Zoe", company="")
    ana = factories.contact(2, first_name="Ana", company="Acme")
    template = Template.objects.create(
        name="Intro", channel="instagram", body='Hi {{ first_name|default:"there" }}!'
    )
    page.goto(f"/templates/{template.pk}/")
    page.select_option("#preview-contact", str(ana.pk))
    preview = page.locator("#preview .preview-text")
    # expect() polls without eval(): the Content-Security-Policy forbids string scripts.
    expect(preview).to_have_text("Hi Ana!")
    page.fill("#id_body", "Hi {{ first_name }} from {{ company }}, see https://acme.io")
    expect(preview).to_have_text("Hi Ana from Acme, see https://acme.io")
    assert preview.inner_text() == "Hi Ana from Acme, see https://acme.io"
    warning = page.locator("#lint .lint-warning[data-code=link_rewrite]")
    assert "l.instagram.com" in warning.inner_text()
    # Another contact with no company: the empty-variable warning appears.
    page.select_option("#preview-contact", label="Zoe Tester")
    page.locator("#lint .lint-warning[data-code=empty_variable]").wait_for()
    assert "company" in page.locator("#lint").inner_text()
    # A typo is an error, and saving it is refused.
    page.fill("#id_body", "Hi {{ frist_name }}")
    page.locator("#lint .lint-error").wait_for()
    page.click("#template-form button[type=submit]")
    assert "unknown variable" in page.content()
    template.refresh_from_db()
    assert template.body.startswith('Hi {{ first_name|default:"there" }}')
