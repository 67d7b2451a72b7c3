"""Who may do what: the access policy of every URL, admin page and API operation.

Read by tests/security/test_authorization_matrix.py, which requests every URL of the
project as each role and compares the outcome with this table; a URL missing here fails
that test with the entry to add.

An expectation is six characters, one per role, always in this order:

    anonymous, rep, rep_other, manager, manager_other, admin

"Y" allowed (2xx, a 400 form/validation error, or a redirect within the area), "-" refused
(401/403/404/405, a redirect to the login page, or the admin's "not found"). The URL's
parameters always name rows of team A: "rep" owns them, "manager" manages that rep,
"rep_other" and "manager_other" are in team B, "admin" is in no team.

Row scoping (core/access.py): a rep sees what they own, a manager what their team's
reps own, an admin everything. So OWN = "-Y-Y-Y" is the usual answer for a page about one
row, SIGNED_IN = "-YYYYY" for a list (which the list then filters).
"""

from dataclasses import dataclass, field
from typing import Any

from deliverability.urls import urlpatterns as esp_webhooks

ANYONE = "YYYYYY"
OWNER = "-Y----"  # the row's owner only (their own API tokens)
SIGNED_IN = "-YYYYY"
OWN = "-Y-Y-Y"  # the row's owner, their manager, an admin
MANAGERS = "---YYY"  # managers (any team) and admins
TEAM_MANAGER = "---Y-Y"  # the row's team's manager and admins
ADMINS = "-----Y"
NOBODY = "------"


@dataclass(frozen=True)
class Page:
    """A URL of the URLconf (not an admin model page nor an API operation).

    args: path parameter -> the model whose team-A row fills it, or a literal, or a
    callable(world) -> str. methods: method -> expectation (GET is always asked: NOBODY
    when not listed). query/data: sent with a method.
    """

    args: dict[str, Any] = field(default_factory=dict)
    methods: dict[str, str] = field(default_factory=dict)
    query: dict[str, dict] = field(default_factory=dict)
    data: dict[str, dict] = field(default_factory=dict)


def page(args: dict | None = None, query=None, data=None, **methods: str) -> Page:
    return Page(args or {}, methods, query or {}, data or {})


def _model(label: str):
    from django.apps import apps

    return apps.get_model(label)


def _unsubscribe_token(world) -> str:
    from outreach.channels.email.backend import unsubscribe_token

    return unsubscribe_token("lead1@example.com")


def _invitation_token(world) -> str:
    from contacts.invitations import invitation_token

    return invitation_token(world.target(_model("contacts.Invitation")))


def _media_pk(world) -> str:
    return str(world.target(_model("outreach.MediaAsset")).pk)


def _scheduled_reply(world) -> str:
    """A reply a rep of team A scheduled for tomorrow in its conversation (send later)."""
    from datetime import timedelta

    from django.utils import timezone

    message = world.target(_model("outreach.Message"))
    scheduled = _model("outreach.Message").objects.create(
        conversation=message.conversation,
        sender=message.sender,
        channel=message.channel,
        direction="out",
        status="queued",
        body="Later",
        human_written=True,
        not_before=timezone.now() + timedelta(days=1),
    )
    return str(scheduled.pk)


def _stored_attachment(world) -> str:
    """Attachment 0 of team A's inbound message, with a stored copy as the media fetch
    leaves it (outreach/inbound_media.py)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    message = world.target(_model("outreach.Message"))
    if not message.attachments:
        name = default_storage.save("inbound/matrix.ogg", ContentFile(b"OggS\x00\x02matrix"))
        entry = {"type": "voice", "file_id": "matrix", "fetch": "stored", "stored": name}
        message.attachments = [entry | {"size": 14, "content_type": "audio/ogg"}]
        message.save(update_fields=["attachments"])
    return "0"


C, CONV, CAMP, DEAL, TPL, IMP, MSG, REPLY = (
    "contacts.Contact",
    "outreach.Conversation",
    "campaigns.Campaign",
    "pipelines.Deal",
    "campaigns.Template",
    "contacts.ContactImport",
    "outreach.Message",
    "outreach.SavedReply",
)
DOMAIN = "deliverability.SendingDomain"

# App pages and the admin site's own pages, by route.
PAGES: dict[str, Page] = {
    "health/": page(GET=ANYONE),
    # Load balancers and Kubernetes probes (config/health.py): no login, nothing sensitive.
    "healthz": page(GET=ANYONE),
    "readyz": page(GET=ANYONE),
    # Prometheus (config/metrics.py): a bearer token, never a session; 404 while
    # METRICS_TOKEN is unset (tests/ops/test_metrics_and_logs.py scrapes it with one).
    "metrics": page(GET=NOBODY),
    # Webhooks: platforms sign them; nobody gets in unsigned, whatever their session.
    "webhooks/<str:channel>/": page(
        args={"channel": "x"},
        # X's CRC check comes unsigned, so anyone gets its answer for a token shaped like
        # X's; a token that could be a JSON body is refused with 400 (issue #16,
        # tests/channels/test_inbound_edges.py), which this table would read as allowed.
        query={"GET": {"crc_token": "matrix-crc-token"}},
        GET=ANYONE,
        POST=NOBODY,
    ),
    "webhooks/<str:channel>/<str:account>/": page(
        args={"channel": "telegram", "account": "1"}, GET=NOBODY, POST=NOBODY
    ),
    # ESP webhooks (deliverability/urls.py): basic auth and the ESP's signature, or 403.
    **{f"anymail/{p.pattern}": page(GET=NOBODY, POST=NOBODY) for p in esp_webhooks},
    "u/<str:token>/": page(args={"token": _unsubscribe_token}, GET=ANYONE, POST=ANYONE),
    "files/<int:pk>/": page(args={"pk": _media_pk}, GET=ADMINS, POST=NOBODY),
    # The REST API's own pages (its operations are in API below).
    "api/v1/": page(GET=SIGNED_IN, POST=NOBODY),
    "api/v1/<drf_format_suffix:format>": page(args={"format": ".json"}, GET=SIGNED_IN),
    "api/v1/schema/": page(GET=ANYONE),
    "api/v1/docs/": page(GET=ANYONE),
    # Accounts: the app's login for every user, password reset and invitation links open to
    # anyone; invitations are sent by managers and admins; tokens are each user's own.
    # A logout POST is followed to its "next" page (without it, it lands on the login page,
    # which reads as refused).
    "accounts/login/": page(GET=ANYONE, POST=ANYONE),
    "accounts/logout/": page(data={"POST": {"next": "/"}}, POST=ANYONE),
    "accounts/password/change/": page(GET=SIGNED_IN, POST=SIGNED_IN),
    "accounts/password/change/done/": page(GET=SIGNED_IN),
    "accounts/password/reset/": page(GET=ANYONE, POST=ANYONE),
    "accounts/password/reset/done/": page(GET=ANYONE),
    "accounts/reset/<uidb64>/<token>/": page(
        args={"uidb64": "MQ", "token": "set-password"}, GET=ANYONE, POST=ANYONE
    ),
    "accounts/reset/done/": page(GET=ANYONE),
    "accounts/invite/": page(GET=MANAGERS, POST=MANAGERS),
    "accounts/invite/<int:pk>/revoke/": page(args={"pk": "contacts.Invitation"}, POST=TEAM_MANAGER),
    "accounts/invite/<str:token>/": page(
        args={"token": _invitation_token}, GET=ANYONE, POST=ANYONE
    ),
    "accounts/tokens/": page(GET=SIGNED_IN, POST=SIGNED_IN),
    "accounts/tokens/<int:pk>/revoke/": page(args={"pk": "core.ApiToken"}, GET=OWNER, POST=OWNER),
    # Contacts: imports.
    "contacts/imports/": page(GET=SIGNED_IN, POST=SIGNED_IN),
    "contacts/imports/<int:pk>/": page(args={"pk": IMP}, GET=OWN, POST=OWN),
    "contacts/imports/<int:pk>/progress/": page(args={"pk": IMP}, GET=OWN),
    "contacts/imports/<int:pk>/errors.csv": page(args={"pk": IMP}, GET=OWN),
    "contacts/imports/<int:pk>/rollback/": page(args={"pk": IMP}, GET=OWN, POST=OWN),
    "contacts/imports/<int:pk>/<str:action>/": page(
        args={"pk": IMP, "action": "cancel"}, GET=NOBODY, POST=OWN
    ),
    # Templates.
    "templates/": page(GET=SIGNED_IN),
    # A template belongs to its team (issue #16): another team's is not found.
    "templates/<int:pk>/": page(args={"pk": TPL}, GET=OWN, POST=OWN),
    "templates/<int:pk>/preview/": page(args={"pk": TPL}, GET=NOBODY, POST=OWN),
    "templates/lint/campaign/<int:pk>/": page(args={"pk": CAMP}, GET=OWN),
    "templates/new/": page(GET=SIGNED_IN, POST=SIGNED_IN),
    "templates/preview/": page(GET=NOBODY, POST=SIGNED_IN),
    # Sequences belong to their author's team; shared ones (no author) are seen by all.
    "sequences/": page(GET=SIGNED_IN),
    "sequences/new/": page(GET=SIGNED_IN, POST=SIGNED_IN),
    "sequences/<int:pk>/": page(args={"pk": "campaigns.Sequence"}, GET=OWN, POST=OWN),
    # Inbox.
    "contacts/": page(GET=SIGNED_IN),
    "contacts/<int:pk>/": page(args={"pk": "contacts.Contact"}, GET=OWN),
    "contacts/duplicates/": page(GET=SIGNED_IN),
    # An empty selection is answered with a message on the list (a redirect there).
    "contacts/bulk/": page(POST=SIGNED_IN),
    "contacts/<int:pk>/merge/": page(args={"pk": "contacts.Contact"}, GET=OWN),
    # Merging needs both contacts visible: the spare one is the same rep's.
    "contacts/<int:pk>/merge/<int:other>/": page(
        args={"pk": "contacts.Contact", "other": lambda world: str(world.spare_contact.pk)},
        GET=OWN,
        POST=OWN,
    ),
    "inbox/": page(GET=SIGNED_IN),
    "inbox/metrics/": page(GET=SIGNED_IN),
    "inbox/replies/": page(GET=SIGNED_IN),
    "inbox/replies/new/": page(GET=SIGNED_IN, POST=SIGNED_IN),
    # A saved reply belongs to its team; the rep who wrote it and the team's manager edit it.
    "inbox/replies/<int:pk>/": page(args={"pk": REPLY}, GET=OWN, POST=OWN),
    "inbox/replies/<int:pk>/delete/": page(args={"pk": REPLY}, GET=OWN, POST=OWN),
    "inbox/replies/render/<int:contact_id>/": page(args={"contact_id": C}, GET=OWN),
    "inbox/<int:pk>/": page(args={"pk": CONV}, GET=OWN),
    "inbox/<int:pk>/thread/": page(args={"pk": CONV}, GET=OWN),
    "inbox/<int:pk>/reply/": page(args={"pk": CONV}, data={"POST": {"body": "Hi"}}, POST=OWN),
    "inbox/<int:pk>/note/": page(args={"pk": CONV}, data={"POST": {"body": "Hi"}}, POST=OWN),
    "inbox/<int:pk>/assign/": page(args={"pk": CONV}, POST=OWN),
    "inbox/<int:pk>/snooze/": page(args={"pk": CONV}, POST=OWN),
    # Cancelling a scheduled reply: whoever may see the conversation.
    "inbox/<int:pk>/scheduled/<int:message_id>/cancel/": page(
        args={"pk": CONV, "message_id": _scheduled_reply}, POST=OWN
    ),
    "inbox/<int:pk>/resolve/": page(args={"pk": CONV}, POST=OWN),
    "inbox/<int:pk>/intent/<int:message_id>/": page(
        args={"pk": CONV, "message_id": MSG}, data={"POST": {"label": "other"}}, POST=OWN
    ),
    # The stored copy of what a contact sent: whoever may see the conversation.
    "inbox/<int:pk>/media/<int:message_id>/<int:index>/": page(
        args={"pk": CONV, "message_id": MSG, "index": _stored_attachment}, GET=OWN
    ),
    # The task queue: a manual task is its message's conversation's (outreach.manualtask).
    "tasks/": page(GET=SIGNED_IN),
    "tasks/<int:pk>/sent/": page(args={"pk": "outreach.ManualTask"}, POST=OWN),
    "tasks/<int:pk>/skip/": page(args={"pk": "outreach.ManualTask"}, POST=OWN),
    "tasks/<int:pk>/replied/": page(args={"pk": "outreach.ManualTask"}, POST=OWN),
    # Pipelines.
    "pipelines/": page(GET=SIGNED_IN),
    "pipelines/<int:pk>/": page(args={"pk": "pipelines.Pipeline"}, GET=SIGNED_IN),
    "pipelines/deals/<int:pk>/move/": page(args={"pk": DEAL}, POST=OWN),
    # Triggers: only managers and admins create them (issue #16).
    "triggers/": page(GET=SIGNED_IN, POST=MANAGERS),
    # Sending domains: seen by their team (and by whoever sees a sender on them); the DKIM
    # key and the strict switch are the team's manager's and an admin's.
    "deliverability/domains/": page(GET=SIGNED_IN),
    # A sender's health: whoever may see the sender (outreach.access.senders_visible_to).
    "senders/<int:pk>/health/": page(args={"pk": "outreach.SenderAccount"}, GET=OWN),
    # A team's daily cap, set from one of its senders' pages: the team's managers and admins.
    "senders/<int:pk>/team-cap/": page(
        args={"pk": "outreach.SenderAccount"}, data={"POST": {"per_day": "50"}}, POST=TEAM_MANAGER
    ),
    "deliverability/domains/<int:pk>/": page(args={"pk": DOMAIN}, GET=OWN),
    "deliverability/domains/<int:pk>/check/": page(args={"pk": DOMAIN}, POST=OWN),
    "deliverability/domains/<int:pk>/dkim-key/": page(args={"pk": DOMAIN}, POST=TEAM_MANAGER),
    "deliverability/domains/<int:pk>/strict/": page(args={"pk": DOMAIN}, POST=TEAM_MANAGER),
    "deliverability/domains/<int:pk>/resume/": page(args={"pk": DOMAIN}, POST=TEAM_MANAGER),
    # Dashboards and the campaign builder.
    "": page(GET=SIGNED_IN),
    "campaigns/<int:pk>/": page(args={"pk": CAMP}, GET=OWN),
    "campaigns/<int:pk>/forecast/": page(args={"pk": CAMP}, GET=OWN),
    "campaigns/<int:pk>/pause/": page(args={"pk": CAMP}, POST=OWN),
    "campaigns/<int:pk>/resume/": page(args={"pk": CAMP}, POST=OWN),
    "campaigns/new/": page(GET=SIGNED_IN, POST=SIGNED_IN),
    "campaigns/<int:pk>/build/audience/": page(args={"pk": CAMP}, GET=OWN, POST=OWN),
    "campaigns/<int:pk>/build/review/": page(args={"pk": CAMP}, GET=OWN, POST=OWN),
    # The admin site's own pages (its model pages are in ADMIN_MODELS below).
    "admin/": page(GET=SIGNED_IN),
    "admin/^(?P<app_label>auth|core|contacts|outreach|deliverability|webhooks|pipelines"
    "|campaigns)/$": page(args={"app_label": "campaigns"}, GET=SIGNED_IN),
    "admin/login/": page(GET=ANYONE, POST=ANYONE),
    # Django's logout takes POST only (405 to a signed-in GET); an anonymous GET or POST is
    # sent on to the admin index (a redirect, counted as allowed: there is nothing to
    # refuse). A POST is followed to its "next" page, as on accounts/logout/.
    "admin/logout/": page(data={"POST": {"next": "/"}}, GET="Y-----", POST=ANYONE),
    "admin/password_change/": page(GET=SIGNED_IN, POST=SIGNED_IN),
    "admin/password_change/done/": page(GET=SIGNED_IN),
    "admin/autocomplete/": page(
        query={"GET": {"app_label": "contacts", "model_name": "contact", "field_name": "tags"}},
        GET=SIGNED_IN,
    ),
    "admin/jsi18n/": page(GET=SIGNED_IN),
    "admin/r/<path:content_type_id>/<path:object_id>/": page(
        args={"content_type_id": "1", "object_id": "1"}, GET=NOBODY
    ),
    "admin/campaigns/template/<int:pk>/preview/": page(args={"pk": TPL}, GET=OWN),
    "admin/auth/user/<id>/password/": page(args={"id": "auth.User"}, GET=ADMINS, POST=ADMINS),
    "admin/(?P<url>.*)$": page(args={"url": "nothing-here/"}, GET=NOBODY),
}


@dataclass(frozen=True)
class AdminModel:
    """What each role's group may do with the model in the admin: letters of v(iew),
    a(dd), c(hange), d(elete), as the roles migration grants them
    (campaigns/migrations/0004_fill_roles.py). never: letters the ModelAdmin refuses to
    everyone (a log cannot be added to). scoped: the admin shows a team's rows to that team
    only, other teams get "not found"; unscoped models are shared by every team.
    overrides: "METHOD kind" (kind: changelist, add, change, delete, history) -> expectation,
    where the rule above does not fit."""

    rep: str
    manager: str
    admin: str
    scoped: bool
    never: str = ""
    overrides: dict[str, str] = field(default_factory=dict)


def model(
    rep: str = "",
    manager: str = "",
    admin: str = "vacd",
    scoped: bool = False,
    never: str = "",
    **overrides: str,
) -> AdminModel:
    return AdminModel(
        rep, manager, admin, scoped, never, {k.replace("_", " "): v for k, v in overrides.items()}
    )


ALL = "vacd"
# Deleting a contact or an identity cascades to conversations and messages, which only
# admins may delete: the admin refuses the POST to anyone else (its "perms needed" page).
CASCADES_TO_MESSAGES = ADMINS
ADMIN_MODELS: dict[str, AdminModel] = {
    "auth.group": model(),
    "auth.user": model(),
    "core.apitoken": model(),
    "contacts.contact": model("vac", ALL, scoped=True, POST_delete=CASCADES_TO_MESSAGES),
    "contacts.identity": model("vac", ALL, scoped=True, POST_delete=CASCADES_TO_MESSAGES),
    "contacts.consentrecord": model("va", "va", scoped=True),
    "contacts.contactimport": model("va", ALL, scoped=True, never="c"),
    "contacts.savedmapping": model("va", ALL),
    "contacts.suppression": model("", "va"),
    "contacts.tag": model("va", ALL),
    "core.team": model("", "v"),
    "outreach.senderaccount": model("v", "v", scoped=True),
    "outreach.conversation": model("vac", "vac", scoped=True),
    "outreach.message": model("va", "va", scoped=True, never="a"),
    # A manual task belongs to its message's conversation; it is made by the engine only.
    "outreach.manualtask": model("vc", "vc", scoped=True, never="a"),
    "outreach.inboundevent": model(never="a"),
    "outreach.workerheartbeat": model(),
    "outreach.sendingswitch": model(never="ad"),
    "core.auditentry": model(never="acd"),
    "outreach.mediaasset": model(),
    # Reps and managers keep their saved replies on the inbox's page (inbox/replies/).
    "outreach.savedreply": model(),
    "campaigns.campaign": model("vac", ALL, scoped=True),
    "campaigns.enrollment": model(ALL, ALL, scoped=True),
    "pipelines.deal": model("vac", ALL, scoped=True),
    # A sequence belongs to its author's team (shared when it has neither).
    "campaigns.sequence": model("vac", ALL, scoped=True),
    # Steps are added in their sequence's page; deleting one cascades to its sends. A step
    # is seen by whoever sees its template (another team's template: another team's step).
    "campaigns.step": model("vac", ALL, scoped=True, never="a", POST_delete=ADMINS),
    # A template belongs to a team (shared when it has none): another team's is not found.
    "campaigns.template": model("vac", ALL, scoped=True),
    "pipelines.pipeline": model("v", "v"),
    "pipelines.stage": model("v", "v"),
    # Reps see their teams' triggers; managers and admins add and change them (issue #16).
    # Deleting one that fired cascades to its fires (a log only admins delete): a manager
    # switches it off instead.
    "campaigns.trigger": model("v", ALL, scoped=True, POST_delete=ADMINS),
    "campaigns.triggerfire": model(),
    "campaigns.stepoptions": model(),
    "webhooks.webhooksubscriber": model(),
    # WhatsApp accounts and their templates synced from Meta: admins only.
    "deliverability.whatsappaccount": model(),
    # A sender's bounce and complaint thresholds (deliverability/guards.py): admins only.
    "deliverability.senderguard": model(),
    "webhooks.webhookdelivery": model(never="a"),
}

# Admin actions: the permission letter each needs on its model (delete_selected needs "d").
ADMIN_ACTIONS: dict[str, dict[str, str]] = {
    "contacts.contact": {"opt_out": "c", "export_csv": "v", "export_xlsx": "v", "enrol": "c"},
    # The importer cancels, resumes and rolls back their own import (as on its page).
    "contacts.contactimport": {"cancel": "v", "resume": "v", "rollback": "v"},
    "outreach.senderaccount": {"pause": "c", "resume": "c"},
    "deliverability.whatsappaccount": {"sync": "c"},
    "campaigns.campaign": {"launch": "c", "pause": "c", "resume": "c"},
    "campaigns.enrollment": {"pause": "c", "resume": "c", "unenrol": "c", "opt_out_contacts": "c"},
    "pipelines.deal": {"move_stage": "c"},
    "webhooks.webhookdelivery": {"replay": "c"},
    # Quarantined inbound events processed again (admins: nobody else may change events).
    "outreach.inboundevent": {"replay": "c"},
}

# API operations (operationId of the OpenAPI schema at /api/v1/schema/) -> expectation.
API: dict[str, str] = {
    "contacts_list": SIGNED_IN,
    "contacts_create": SIGNED_IN,
    "contacts_retrieve": OWN,
    "contacts_update": OWN,
    "contacts_partial_update": OWN,
    "contacts_destroy": TEAM_MANAGER,
    "contacts_bulk_upsert_create": SIGNED_IN,
    "imports_list": SIGNED_IN,
    "imports_create": SIGNED_IN,
    "imports_retrieve": OWN,
    "imports_start_create": OWN,
    "conversations_list": SIGNED_IN,
    "conversations_retrieve": OWN,
    "conversations_reply_create": OWN,
    "messages_list": SIGNED_IN,
    "messages_retrieve": OWN,
    "senders_list": SIGNED_IN,
    "senders_retrieve": OWN,
    "campaigns_list": SIGNED_IN,
    "campaigns_create": SIGNED_IN,
    "campaigns_retrieve": OWN,
    "campaigns_update": OWN,
    "campaigns_partial_update": OWN,
    "campaigns_launch_create": OWN,
    "campaigns_pause_create": OWN,
    "campaigns_resume_create": OWN,
    "campaigns_stats_retrieve": OWN,
    "enrollments_list": SIGNED_IN,
    "enrollments_create": SIGNED_IN,
    "enrollments_retrieve": OWN,
    "enrollments_destroy": OWN,
    "pipelines_list": SIGNED_IN,
    "pipelines_retrieve": SIGNED_IN,
    "deals_list": SIGNED_IN,
    "deals_create": SIGNED_IN,
    "deals_retrieve": OWN,
    "deals_update": OWN,
    "deals_partial_update": OWN,
    "deals_destroy": TEAM_MANAGER,
    "privacy_contacts_erase_create": TEAM_MANAGER,
    "privacy_contacts_export_retrieve": OWN,
    "token_create": ANYONE,
}

# API writes whose serializer takes plain ids instead of relations: payload field ->
# (model of the row it names, the field of the written model that stores it). The matrix
# sends another team's id in each and checks nothing was written with it.
API_ID_FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "enrollments_create": {
        "campaign": ("campaigns.Campaign", "campaign"),
        "contacts": ("contacts.Contact", "contact"),
    },
}


@dataclass(frozen=True)
class AppForm:
    """An app page form that names rows. The matrix posts `data` (values that are model
    labels become team A's row of that model) with each of `fields` set to team B's row
    and expects a refusal (4xx, or an error on that field) and, where `writes` names the
    model and field that would store it, no row of that model pointing at team B's row.

    fields: form field -> (model of the row it names, "app.Model.field" it writes or "",
    optionally how the form spells the row, default "{pk}")."""

    route: str
    args: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)


_TRIGGER = {
    "name": "Matrix trigger",
    "channel": "email",
    "event_type": "email",
    "match": "any",
    "public_reply_order": "commenter",
    "start_step": "1",
    "address": "leads@example.com",
    "team": "core.Team",
    "sender": "outreach.SenderAccount",
}
APP_FORMS: dict[str, AppForm] = {
    "inbox-assign": AppForm(
        "inbox/<int:pk>/assign/",
        args={"pk": CONV},
        fields={"user": ("auth.User", "outreach.Conversation.assigned_to")},
    ),
    "trigger-create": AppForm(
        "triggers/",
        data=_TRIGGER,
        fields={
            "team": ("core.Team", "campaigns.Trigger.team"),
            "sender": ("outreach.SenderAccount", "campaigns.Trigger.sender"),
            "campaign": (CAMP, "campaigns.Trigger.campaign"),
            "assign_team": ("core.Team", "campaigns.Trigger.assign_team"),
        },
    ),
    "campaign-new": AppForm(
        "campaigns/new/",
        data={"name": "Matrix campaign", "sequence": "campaigns.Sequence"},
        fields={"senders": ("outreach.SenderAccount", "campaigns.Campaign.senders")},
    ),
    # Admin actions with a form of their own.
    "admin-enrol-action": AppForm(
        "admin/contacts/contact/",
        data={
            "action": "enrol",
            "index": "0",
            "confirm": "1",
            "_selected_action": lambda world: str(world.spare_contact.pk),
        },
        fields={"campaign": (CAMP, "campaigns.Enrollment.campaign")},
    ),
    # Bulk actions on the contacts list: another team's campaign or owner is not found.
    "contacts-bulk-enrol": AppForm(
        "contacts/bulk/",
        data={"action": "enrol", "confirmed": "yes", "ids": "contacts.Contact"},
        fields={"bulk_campaign": (CAMP, "")},
    ),
    "contacts-bulk-owner": AppForm(
        "contacts/bulk/",
        data={"action": "owner", "ids": "contacts.Contact"},
        fields={"bulk_owner": ("auth.User", "")},
    ),
    "import-upload": AppForm(
        "contacts/imports/",
        data={"mode": "update", "file": "csv"},
        fields={"owner": ("auth.User", ""), "then": (CAMP, "", "campaign:{pk}")},
    ),
}
