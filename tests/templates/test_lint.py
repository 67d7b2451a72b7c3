"""The pre-launch lint: each class of problem, empty-variable counts, and launch refusal."""

import pytest

from campaigns.lint import campaign_lint, lint_source
from campaigns.models import Campaign, Template, TemplateVariant
from campaigns.services import LaunchError, campaign_launch, enrollments_create
from contacts.models import Contact
from tests import factories

pytestmark = pytest.mark.django_db


def codes(issues, level=None):
    return {i.code for i in issues if level is None or i.level == level}


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("Hi {{ frist_name }}", "unknown_variable"),
        ("{% if nickname %}x{% endif %}", "unknown_variable"),
        ("Hi {{ first_name ", "syntax"),
        ("Hi first_name }}", "syntax"),
        ("{% if company %}no end", "syntax"),
        ("{% endif %}", "syntax"),
        ("{% if company %}a{% else %}b{% else %}c{% endif %}", "syntax"),
        ("{{ first_name|shout }}", "syntax"),
        ("{Hi|Hello there", "spintax"),
        ("{Hi|{% if company %}x|y{% endif %}", "spintax"),
    ],
)
def test_lint_reports_each_error_class(source, code):
    issues, compiled = lint_source(source, channel="email")
    assert compiled is None
    assert codes(issues, "error") == {code}
    assert "line 1" in issues[0].message


def test_links_that_will_be_rewritten_are_warned_per_channel():
    text = "See https://acme.io/demo and https://acme.io/{{ handle }}"
    x_issues, _ = lint_source(text, channel="x")
    assert "t.co" in " ".join(i.message for i in x_issues)
    ig_issues, _ = lint_source(text, channel="instagram")
    assert any("l.instagram.com" in i.message for i in ig_issues)
    email_issues, _ = lint_source(text, channel="email")
    assert [i.message for i in email_issues] == [
        "a link is personalised per contact; each contact gets a different URL"
    ]
    assert lint_source("no links here {{ first_name }}", channel="x")[0] == []


def make_campaign(body: str, channel: str = "email", n: int = 10, **contact_fields):
    contacts = [factories.contact(i, channels=(channel,)) for i in range(n)]
    campaign = factories.campaign(
        senders=[factories.sender(channel=channel)], steps=((channel, 0),), body=body
    )
    enrollments_create(campaign=campaign, contacts=contacts)
    return campaign, contacts


def test_empty_variables_without_fallback_are_counted_with_examples():
    campaign, contacts = make_campaign(
        "Hi {{ first_name }}, {{ company }}? {{ title|default:'lead' }} "
        "{% if country %}{{ country }}{% endif %} {{ custom.industry }}"
    )
    Contact.objects.filter(id__in=[c.id for c in contacts[:3]]).update(first_name="")
    Contact.objects.filter(id__in=[c.id for c in contacts[:7]]).update(company="Acme")
    Contact.objects.filter(id=contacts[0].id).update(custom_fields={"industry": "SaaS"})
    report = campaign_lint(campaign=campaign)
    empty = {
        i.message.split(" }}")[0].removeprefix("{{ "): i
        for i in report.issues
        if i.code == "empty_variable"
    }
    assert set(empty) == {"first_name", "company", "custom.industry"}  # not title, not country
    assert empty["first_name"].count == 3 and len(empty["first_name"].examples) == 3
    assert empty["company"].count == 3
    assert empty["custom.industry"].count == 9
    assert len(empty["custom.industry"].examples) == 5
    assert "of 10 contacts" in empty["company"].message
    assert report.contacts_checked == 10 and not report.errors


def test_length_over_the_channel_limit_is_an_error_with_a_count():
    campaign, contacts = make_campaign("{{ custom.bio }}", channel="instagram", n=4)
    Contact.objects.filter(id=contacts[0].id).update(custom_fields={"bio": "y" * 990})
    step_template = Template.objects.get(steps__sequence=campaign.sequence)
    step_template.body = "{{ custom.bio|default:'short' }} and twenty more chars"
    step_template.save()
    report = campaign_lint(campaign=campaign)
    [issue] = [i for i in report.errors if i.code == "length"]
    assert issue.count == 1 and "1,000-character limit for 1 of 4" in issue.message


def test_every_variant_is_linted():
    campaign, _ = make_campaign("Hi {{ first_name }}")
    template = Template.objects.get(steps__sequence=campaign.sequence)
    TemplateVariant.objects.create(template=template, label="A", body="Hi {{ first_name }}")
    TemplateVariant.objects.create(template=template, label="B", body="Yo {{ nickname }}")
    report = campaign_lint(campaign=campaign)
    assert [i.where for i in report.errors] == ["step 1 / variant B body"]


def test_launch_is_refused_with_lint_errors():
    campaign, _ = make_campaign("Hi {{ first_name")
    with pytest.raises(LaunchError) as err:
        campaign_launch(campaign=campaign, confirm_warnings=True)
    assert "never closed" in err.value.problems[0]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_warnings_need_confirmation_before_launch():
    campaign, contacts = make_campaign("Hi {{ company }}")
    with pytest.raises(LaunchError) as err:
        campaign_launch(campaign=campaign)
    assert err.value.needs_confirmation and "company" in err.value.warnings[0]
    campaign_launch(campaign=campaign, confirm_warnings=True)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING


def test_clean_campaign_launches_without_confirmation():
    campaign, _ = make_campaign('Hi {{ first_name|default:"there" }}')
    assert campaign_launch(campaign=campaign).status == Campaign.Status.RUNNING


def test_contacts_without_the_step_channel_identity_are_reported():
    campaign, _ = make_campaign("Hi", channel="telegram", n=2)
    extra = factories.contact(99, channels=("email",))
    enrollments_create(campaign=campaign, contacts=[extra])
    report = campaign_lint(campaign=campaign)
    [issue] = [i for i in report.warnings if i.code == "no_identity"]
    assert issue.count == 1
