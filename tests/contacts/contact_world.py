"""A contact reached on two channels, with a deal, an enrolment and an import behind it."""

from datetime import timedelta

from django.utils import timezone

from campaigns.models import Enrollment
from contacts.models import ContactImport, Identity
from outreach.models import Conversation, Message
from pipelines.models import Deal, DealStageChange, Pipeline, Stage
from tests import factories


def reached_on_two_channels(owner, *, n: int = 11):
    """Returns the contact; its history, oldest first: import, enrolment, an email sent,
    a deal moved to Won, an Instagram reply, an Instagram message held."""
    now = timezone.now()
    contact = factories.contact(
        n, owner=owner, first_name="Dana", last_name="Rivers", company="Acme"
    )
    insta = Identity.objects.create(
        contact=contact, channel="instagram", value=f"dana_rivers_{n}", platform_user_id=f"IG{n}77"
    )
    imp = ContactImport.objects.create(original_name="fair-leads.csv", path="x.csv")
    ContactImport.objects.filter(pk=imp.pk).update(created_at=now - timedelta(days=6))
    type(contact).objects.filter(pk=contact.pk).update(created_by_import=imp.pk)
    contact.refresh_from_db()

    mail_box = factories.sender(f"Mail{n}", owner=owner)
    insta_box = factories.sender(f"Insta{n}", channel="instagram", owner=owner)
    camp = factories.campaign(senders=[mail_box], name=f"Spring {n}")
    enrolment = Enrollment.objects.create(campaign=camp, contact=contact)
    Enrollment.objects.filter(pk=enrolment.pk).update(created_at=now - timedelta(days=5))

    def message(identity, box, at, **fields):
        conv, _ = Conversation.objects.get_or_create(identity=identity, sender=box)
        m = Message.objects.create(conversation=conv, sender=box, channel=box.channel, **fields)
        Message.objects.filter(pk=m.pk).update(created_at=at)
        return m

    email = contact.identities.get(channel="email")
    message(
        email,
        mail_box,
        now - timedelta(days=4),
        direction="out",
        status="sent",
        body="Hello Dana, about the spring fair",
    )
    pipeline = Pipeline.objects.create(name=f"Sales {n}")
    new = Stage.objects.create(pipeline=pipeline, name="New", position=1)
    won = Stage.objects.create(pipeline=pipeline, name="Won", position=2, kind=Stage.Kind.WON)
    deal = Deal.objects.create(contact=contact, pipeline=pipeline, stage=won, owner=owner)
    change = DealStageChange.objects.create(deal=deal, from_stage=new, to_stage=won)
    DealStageChange.objects.filter(pk=change.pk).update(at=now - timedelta(days=3))
    message(
        insta,
        insta_box,
        now - timedelta(days=2),
        direction="in",
        status="received",
        body="Yes please, send the price list",
    )
    message(
        insta,
        insta_box,
        now - timedelta(days=1),
        direction="out",
        status="queued",
        body="Here it is",
        hold_reason="outside the sending window",
    )
    return contact
