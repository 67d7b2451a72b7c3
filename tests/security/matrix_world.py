"""Two teams for the authorization matrix (tests/security/test_authorization_matrix.py).

Team A ("North"): manager mia, reps alice and amy. Team B ("South"): manager max, rep bob.
An admin, boss, belongs to no team. Each of alice and bob owns a full set of rows (contact
with identity, consent, conversation, message and manual task, a sender, a campaign with
its sequence, step, template and step options, an enrolment, a deal, an import, a trigger
with a fire); the shared rows (tags, pipelines, webhooks, the kill switch...) exist once.

The matrix always aims at alice's rows (the "target team" A): "rep" is alice, "manager" is
mia, "rep_other" and "manager_other" are bob and max of team B.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from django.utils import timezone

from campaigns.models import Campaign, Enrollment, Sequence, Step, Template
from campaigns.triggers.models import StepOptions, Trigger, TriggerFire
from contacts.invitations import Invitation
from contacts.models import ConsentRecord, Contact, ContactImport, SavedMapping, Suppression, Tag
from contacts.services import address_suppress
from core.api_tokens import api_token_create
from core.audit import AuditEntry
from core.teams import Team
from deliverability.models import SenderGuard, SendingDomain, WhatsAppAccount
from outreach.inbox.models import MessageIntent, SavedReply
from outreach.models import (
    Conversation,
    InboundEvent,
    ManualTask,
    MediaAsset,
    Message,
    SenderAccount,
    SendingSwitch,
    WorkerHeartbeat,
)
from pipelines.models import Deal, Pipeline, Stage
from tests import factories
from webhooks.models import WebhookDelivery, WebhookSubscriber

ROLES = ("anonymous", "rep", "rep_other", "manager", "manager_other", "admin")


def _user(name: str, role: str) -> User:
    user = User.objects.create_user(name, f"{name}@example.com", f"{name}-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@dataclass
class World:
    users: dict[str, User | None]
    # rows[team][model] -> the row of that team ("A" is the target, "B" the other team);
    # shared models have the same row under both keys.
    rows: dict[str, dict[type[Model], Model]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    # A second contact of alice's in no campaign (an enrolment form has something to add).
    spare_contact: Contact | None = None

    def target(self, model: type[Model]) -> Model:
        return self.rows["A"][model]

    def other(self, model: type[Model]) -> Model:
        return self.rows["B"][model]


def _owned_rows(
    rep: User, team: Team, n: int, pipeline: Pipeline, stage: Stage
) -> dict[type[Model], Model]:
    name = rep.username
    contact = factories.contact(n, owner=rep, first_name=f"{name.title()}Lead")
    identity = contact.identities.get()
    sender = factories.sender(f"{name.title()}Mail", owner=rep)
    conversation = Conversation.objects.create(identity=identity, sender=sender)
    message = Message.objects.create(
        conversation=conversation,
        sender=sender,
        channel="email",
        direction=Message.Direction.INBOUND,
        status=Message.Status.RECEIVED,
        body=f"Hello from {contact.first_name}",
    )
    MessageIntent.objects.create(message=message, label=MessageIntent.Label.INTERESTED)
    campaign = factories.campaign(senders=[sender], name=f"{name} campaign")
    Campaign.objects.filter(pk=campaign.pk).update(owner=rep)
    # A sequence built in the app belongs to its author's team (campaigns/access.py
    # `sequences_visible_to`). A neutral name: the page scan looks only for rows' names.
    Sequence.objects.filter(pk=campaign.sequence_id).update(
        name=f"Sequence {n}", created_by=rep, team=team
    )
    campaign.refresh_from_db()
    step = campaign.sequence.steps.get()
    # A template belongs to the team of the rep who wrote it (campaigns/admin.py's
    # TemplateAdmin.save_model), so another team's template is not one to pick.
    Template.objects.filter(pk=step.template_id).update(team=team)
    step.refresh_from_db()
    event = InboundEvent.objects.create(
        provider="email", provider_event_id=f"matrix-{name}", payload={"from": name}
    )
    trigger = Trigger.objects.create(
        name=f"{name} trigger",
        team=team,
        channel="email",
        event_type="email",
        sender=sender,
        campaign=campaign,
        deal_stage=stage,
        match=Trigger.Match.ANY,
    )
    return {
        Contact: contact,
        type(identity): identity,
        ConsentRecord: ConsentRecord.objects.create(
            contact=contact,
            identity=identity,
            kind=ConsentRecord.Kind.GRANTED,
            source="matrix",
            actor=rep,
        ),
        ContactImport: ContactImport.objects.create(
            original_name=f"{name}.csv",
            path=f"/nonexistent/{name}.csv",
            created_by=rep,
            status=ContactImport.Status.DONE,
        ),
        SenderAccount: sender,
        WhatsAppAccount: WhatsAppAccount.objects.create(sender=sender, waba_id=f"waba-{name}"),
        SenderGuard: SenderGuard.objects.create(sender=sender),
        Conversation: conversation,
        Message: message,
        ManualTask: ManualTask.objects.create(message=message, assignee=rep),
        Campaign: campaign,
        Sequence: campaign.sequence,
        Step: step,
        Template: step.template,
        StepOptions: StepOptions.objects.create(step=step),
        Enrollment: Enrollment.objects.create(campaign=campaign, contact=contact),
        Deal: Deal.objects.create(contact=contact, pipeline=pipeline, stage=stage, owner=rep),
        InboundEvent: event,
        Trigger: trigger,
        SavedReply: SavedReply.objects.create(
            team=team, name=f"{name} saved reply", body="Hi {{ first_name }}", created_by=rep
        ),
        # Pending, sent by the team's manager.
        Invitation: Invitation.objects.create(
            email=f"new-{name}@example.com",
            team=team,
            invited_by=team.managers.get(),
            expires_at=timezone.now() + timedelta(days=7),
        ),
        SendingDomain: SendingDomain.objects.create(domain=f"{name}.example", team=team),
        TriggerFire: TriggerFire.objects.create(
            trigger=trigger, inbound_event=event, contact=contact, outcome="fired"
        ),
    }


def build_world() -> World:
    users: dict[str, User | None] = {
        "anonymous": None,
        "rep": _user("alice", "rep"),
        "rep_other": _user("bob", "rep"),
        "manager": _user("mia", "manager"),
        "manager_other": _user("max", "manager"),
        "admin": _user("boss", "admin"),
    }
    amy = _user("amy", "rep")
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    north.managers.add(users["manager"])
    north.members.add(users["rep"], amy)
    south.managers.add(users["manager_other"])
    south.members.add(users["rep_other"])

    pipeline = Pipeline.objects.create(name="Matrix pipeline")
    stage = Stage.objects.create(pipeline=pipeline, name="New", position=1)
    Stage.objects.create(pipeline=pipeline, name="Won", position=2, kind=Stage.Kind.WON)
    subscriber = WebhookSubscriber.objects.create(url="https://hooks.example.com/in")
    token, _ = api_token_create(user=users["rep"], name="alice's script")
    shared: dict[type[Model], Model] = {
        Group: Group.objects.get(name="rep"),
        Tag: Tag.objects.create(name="vip"),
        Suppression: address_suppress(channel="", value="gone@example.com", reason="legal"),
        SavedMapping: SavedMapping.objects.create(name="CRM export"),
        type(token): token,
        WorkerHeartbeat: WorkerHeartbeat.objects.create(token="matrix-worker"),
        SendingSwitch: SendingSwitch.objects.get_or_create()[0],
        AuditEntry: AuditEntry.objects.create(action="matrix"),
        MediaAsset: MediaAsset.objects.create(
            name="logo", kind="image", file=SimpleUploadedFile("logo.png", b"\x89PNG\r\n")
        ),
        Pipeline: pipeline,
        Stage: stage,
        WebhookSubscriber: subscriber,
        WebhookDelivery: WebhookDelivery.objects.create(
            subscriber=subscriber, event="contact.created", payload={"id": 1}
        ),
    }
    world = World(users=users)
    world.rows["A"] = {
        **shared,
        **_owned_rows(users["rep"], north, 1, pipeline, stage),
        Team: north,
    }
    world.rows["B"] = {
        **shared,
        **_owned_rows(users["rep_other"], south, 2, pipeline, stage),
        Team: south,
    }
    # Where a form names a user (owner, assignee), "another team's" is bob.
    world.rows["A"][User], world.rows["B"][User] = users["rep"], users["rep_other"]
    world.spare_contact = factories.contact(3, owner=users["rep"], first_name="AliceSpare")
    for role, user in users.items():
        if user is not None:
            world.tokens[role] = api_token_create(user=user, name="matrix")[1]
    return world
