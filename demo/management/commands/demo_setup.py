import os
import secrets
from datetime import time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from campaigns.models import Campaign, Sequence, Step, Template
from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Contact, Identity, Tag
from outreach.models import SenderAccount
from pipelines.models import Pipeline, Stage
from pipelines.probabilities import stages_set_default_probabilities

CONTACTS = [
    ("Anna", "Schmidt", "Nordlicht GmbH", "Head of Sales", "Europe/Berlin", "DE", "anna"),
    ("Ben", "Carter", "Brightline Ltd", "Founder", "Europe/London", "GB", "bencarter"),
    ("Chloé", "Martin", "Atelier Rive", "Marketing Lead", "Europe/Paris", "FR", "chloe.m"),
    ("Diego", "Ramos", "Ola Studio", "", "America/Mexico_City", "MX", "diegoramos"),
    ("", "", "Kumo Labs", "", "Asia/Tokyo", "JP", "kumolabs"),
]


class Command(BaseCommand):
    help = "Create a demo admin login and a small campaign that sends follow-ups within minutes."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        password = secrets.token_urlsafe(9)
        admin, _ = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        admin.set_password(password)
        admin.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"Admin login: http://127.0.0.1:{os.environ.get('WEB_PORT', '8000')}/admin/"
                f"  user: admin  password: {password}"
            )
        )
        if Campaign.objects.filter(name="Demo: spring outreach").exists():
            self.stdout.write("Demo data already loaded.")
            return

        tag, _ = Tag.objects.get_or_create(name="demo")
        contacts: list[Contact] = []
        for first, last, company, title, tz, country, handle in CONTACTS:
            contact = Contact.objects.create(
                first_name=first,
                last_name=last,
                company=company,
                title=title,
                time_zone=tz,
                country=country,
                owner=admin,
                custom_fields={"source": "demo"},
            )
            contact.tags.add(tag)
            Identity.objects.create(contact=contact, channel="email", value=f"{handle}@example.com")
            Identity.objects.create(
                contact=contact,
                channel="telegram",
                value=handle,
                platform_user_id=str(100000 + len(contacts)),
            )
            contacts.append(contact)

        always = {"window_days": "0123456", "window_start": time(0), "window_end": time(0)}
        email = SenderAccount.objects.create(
            channel="email",
            name="Demo mailbox",
            handle="sales@example.com",
            daily_cap=100,
            min_gap_seconds=2,
            max_gap_seconds=5,
            credentials="smtp-password-demo",
            **always,
        )
        telegram = SenderAccount.objects.create(
            channel="telegram",
            name="Demo bot",
            handle="demo_outreach_bot",
            daily_cap=100,
            min_gap_seconds=2,
            max_gap_seconds=5,
            credentials="123456:ABC-demo-token",
            **always,
        )
        intro = Template.objects.create(
            name="Intro email",
            channel="email",
            subject="{Quick question|Idea} for {{ company }}",
            body="{Hi|Hello} {{ first_name|default:'there' }},\n\nI help teams like "
            "{{ company|default:'yours' }} reach leads where they answer: in their DMs.\n"
            "Worth a chat?\n\n{{ sender_name }}",
        )
        nudge = Template.objects.create(
            name="Telegram nudge",
            channel="telegram",
            body="Hey {{ first_name|default:'there' }}, did my email reach you?",
        )
        breakup = Template.objects.create(
            name="Break-up email",
            channel="email",
            subject="Closing the loop",
            body="{{ first_name|default:'Hi' }}, I'll stop here. Reply any time if it helps.",
        )
        sequence = Sequence.objects.create(name="Demo: email, Telegram, email")
        Step.objects.create(
            sequence=sequence, position=1, channel="email", template=intro, delay=timedelta(0)
        )
        Step.objects.create(
            sequence=sequence,
            position=2,
            channel="telegram",
            template=nudge,
            delay=timedelta(seconds=20),
        )
        Step.objects.create(
            sequence=sequence,
            position=3,
            channel="email",
            template=breakup,
            delay=timedelta(minutes=3),  # time to try `make demo-reply` before it goes
        )
        campaign = Campaign.objects.create(
            name="Demo: spring outreach", sequence=sequence, owner=admin
        )
        campaign.senders.add(email, telegram)
        enrollments_create(campaign=campaign, contacts=contacts)
        campaign_launch(campaign=campaign)

        if not Pipeline.objects.filter(name="Sales").exists():  # migration 0006 adds it
            pipeline = Pipeline.objects.create(name="Sales")
            for i, (name, kind) in enumerate(
                [
                    ("New lead", "open"),
                    ("Replied", "open"),
                    ("Meeting booked", "open"),
                    ("Won", "won"),
                    ("Lost", "lost"),
                ],
                start=1,
            ):
                Stage.objects.create(pipeline=pipeline, name=name, position=i, kind=kind)
            stages_set_default_probabilities(pipeline=pipeline)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo loaded at {timezone.now():%H:%M:%S}: {len(contacts)} contacts, a 3-step "
                "campaign (email, Telegram after 20 s, email 3 min later). Watch the worker "
                "print each email and the fake platform receive each Telegram message; run "
                "`make demo-reply` to have a contact reply and see their follow-up stop."
            )
        )
