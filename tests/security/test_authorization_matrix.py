"""The authorization matrix: every URL of the project, for every role and method, against
the one policy table in tests/security/access_policy.py.

Enumerated, not listed by hand: the URLconf (app pages and the admin site's own pages),
every model registered in the admin (changelist, add, change, delete, history and each
action) and every operation of the OpenAPI schema. A URL nobody wrote a policy for fails
test_every_url_has_a_policy with the entry to add. Path parameters name a row of team A
(tests/security/matrix_world.py); the six roles are anonymous, alice (rep of team A), bob
(rep of team B), mia (manager of team A), max (manager of team B) and boss (admin).

Then every admin form, API serializer and app form that names rows (access_policy's
APP_FORMS and API_ID_FIELDS for those not discoverable) is given team B's rows as alice and
as mia and must refuse them, and every page they may open is scanned for team B's names
(a menu listing another team's rows).

Each request runs in a transaction rolled back afterwards, so one world serves the whole
module and a DELETE or an action cannot change what the next request sees. A 500 anywhere
fails. A known finding not fixed yet may be listed in KNOWN_GAPS below as a strict
expected failure: the test turns red the moment its fix lands, so the entry goes with it.

The counts (URLs x roles x methods, refused, allowed, FK cases) are printed at the end of
the module.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import transaction
from django.db.models import Model, ProtectedError, RestrictedError
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from rest_framework.test import APIClient

from tests.security import access_policy as policy
from tests.security.matrix_world import ROLES, World, build_world

# Marked so pytest-django creates the test database; each test's own transaction nests in
# the module's (see world) and is rolled back after it.
pytestmark = pytest.mark.django_db

# Known findings not fixed yet: param id -> the finding, a strict expected failure (the
# test turns red the moment a fix lands, so the entry goes with it). Issue #16's are fixed.
KNOWN_GAPS: dict[str, str] = {}

RESULTS: Counter = Counter()  # "allowed"/"refused" per (url, role, method) request made
FK_CASES: Counter = Counter()


# --- enumeration -------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str  # the full route string, e.g. "inbox/<int:pk>/reply/"
    name: str | None  # namespaced, e.g. "inbox:reply"


def url_patterns() -> list[Route]:
    def walk(patterns, prefix: str, namespace: str | None) -> Iterator[Route]:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
                yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name}" if namespace and p.name else p.name
                yield Route(prefix + str(p.pattern), name)

    return list(walk(get_resolver().url_patterns, "", None))


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # with {id} placeholders, as in the schema


def api_operations() -> list[Operation]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        Operation(op["operationId"], method.upper(), path)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    ]


def admin_models() -> dict[str, type[Model]]:
    return {model._meta.label_lower: model for model in admin.site._registry}


ADMIN_KINDS = (
    ("changelist", "GET"),
    ("add", "GET"),
    ("add", "POST"),
    ("change", "GET"),
    ("change", "POST"),
    ("delete", "GET"),
    ("delete", "POST"),
    ("history", "GET"),
)


def admin_action_names(model: type[Model]) -> list[str]:
    model_admin = admin.site._registry[model]
    return sorted(name for _, name, _ in model_admin._get_base_actions())


# --- requests ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """One two-team world for the module, rolled back at its end (its files, uploads and
    imports go to a temporary folder)."""
    media = tmp_path_factory.mktemp("matrix_media")
    with (
        django_db_blocker.unblock(),
        # /readyz ready with no worker running (it asks for none and tolerates any lag), so
        # the table reads who gets its answer, not whether workers run.
        override_settings(
            API_RATE_LIMIT="1000000/minute",
            MEDIA_ROOT=media,
            VAR_DIR=media,
            READY_QUEUES=[],
            READY_DISPATCH_LAG_SECONDS=10**9,
        ),
        transaction.atomic(),
    ):
        built = build_world()
        built.clients = {}  # type: ignore[attr-defined]
        for role, user in built.users.items():
            client = Client(raise_request_exception=False)  # a 500 is an outcome
            if user is not None:
                client.force_login(user)
            api = APIClient(raise_request_exception=False)
            if role in built.tokens:
                api.credentials(HTTP_AUTHORIZATION=f"Token {built.tokens[role]}")
            built.clients[role] = (client, api)  # type: ignore[attr-defined]
        yield built
        transaction.set_rollback(True)


@pytest.fixture(scope="module", autouse=True)
def summary(request) -> Iterator[None]:
    yield
    if not RESULTS:
        return
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    total = RESULTS["allowed"] + RESULTS["refused"]
    lines = [
        "",
        f"authorization matrix: {RESULTS['patterns']} URL patterns, admin models and API "
        f"operations -> {RESULTS['cases']} (URL, method) pairs x {len(ROLES)} roles = "
        f"{total} requests: {RESULTS['refused']} refused, {RESULTS['allowed']} allowed",
        f"cross-team foreign keys: {sum(FK_CASES.values())} writes naming another team's row "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(FK_CASES.items()))})",
        f"pages scanned for another team's names: {RESULTS['scanned']}",
        f"known gaps (strict xfail): {len(KNOWN_GAPS)}",
    ]
    # Shown without -s too: output capture is off while the lines are written.
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        for line in lines:
            if reporter is not None:
                reporter.write_line(line)
            else:
                print(line)


def classify(response, *, action: bool = False) -> str:
    """ "Y" allowed, "-" refused, "500" a server error (never in the policy: a failure)."""
    status = response.status_code
    if status >= 500:
        return "500"
    if status in (401, 403, 404, 405):
        return "-"
    if 300 <= status < 400:
        path = urlsplit(response["Location"]).path
        if path.rstrip("/").endswith("/login"):
            return "-"  # anonymous, sent to log in
        # The admin's "not found" sends to its index with this message (and so does a
        # delete on a model whose changelist the user may not change: that one succeeded).
        refused = ("No action selected", "Items must be selected", "Perhaps it was deleted?")
        if any(text in str(m) for m in get_messages(response.wsgi_request) for text in refused):
            return "-"
    if (
        action
        and status == 200
        and "action_form" in (getattr(response, "context_data", None) or {})
    ):
        return "-"  # the changelist again: the role has no such action, nothing ran
    return "Y"


def call(world: World, role: str, method: str, url: str, data=None, *, api: bool = False) -> str:
    """One request as ``role`` in a transaction rolled back afterwards; its outcome."""
    client, api_client = world.clients[role]  # type: ignore[attr-defined]
    with rolled_back(client):
        if api and method in ("GET", "DELETE"):
            response = getattr(api_client, method.lower())(url)
        elif api:
            body = json.dumps(data if data is not None else {})
            response = getattr(api_client, method.lower())(
                url, body, content_type="application/json"
            )
        elif method == "GET":
            response = client.get(url, data or {})
        else:
            response = getattr(client, method.lower())(url, data or {})
    outcome = classify(response, action=not api and "action" in (data or {}))
    RESULTS["allowed" if outcome == "Y" else "refused"] += 1
    return outcome


@contextlib.contextmanager
def rolled_back(client) -> Iterator[None]:
    """A request whose writes, and whose cookies (a session ended, a message queued for
    the next page), are undone afterwards."""
    cookies = copy.deepcopy(client.cookies)
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
    client.cookies = cookies


def mismatch_table(rows: list[tuple[str, str, str, str]]) -> str:
    lines = [f"{'method':6} {'url':60} {'expected':9} {'actual':9}"]
    lines += [f"{m:6} {u:60} {e:9} {a:9}" for m, u, e, a in rows]
    legend = f"roles in order: {', '.join(ROLES)}; Y allowed, - refused, 5 server error"
    return "\n".join([legend, *lines])


def check(world: World, cases: list[tuple[str, str, str, object, bool]]) -> None:
    """cases: (method, url, expected per role, data, is_api). Fails once with every
    mismatch."""
    wrong = []
    for method, url, expected, data, api in cases:
        actual = "".join(
            "5" if (o := call(world, role, method, url, data, api=api)) == "500" else o
            for role in ROLES
        )
        if actual != expected:
            wrong.append((method, url, expected, actual))
    RESULTS["patterns"] += 1
    RESULTS["cases"] += len(cases)
    assert not wrong, "\n" + mismatch_table(wrong)


def param(key: str, *values):
    reason = KNOWN_GAPS.get(key)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(key, *values, id=key, marks=marks)


# --- every URL has a policy ----------------------------------------------------------------


def _covered_by_api() -> set[str]:
    names = set()
    for op in api_operations():
        match = resolve(op.path.replace("{id}", "1"))
        names.add(match.view_name)
    return names


def test_every_url_has_a_policy():
    api_names = _covered_by_api()
    models = admin_models()
    admin_prefixes = {
        f"admin/{m._meta.app_label}/{m._meta.model_name}/": m for m in models.values()
    }
    missing_pages, missing_models = [], set()
    for r in url_patterns():
        if r.name in api_names or r.route in policy.PAGES:
            continue
        prefix = next((p for p in admin_prefixes if r.route.startswith(p)), None)
        if prefix is not None:
            model = admin_prefixes[prefix]
            standard = {
                f"admin:{model._meta.app_label}_{model._meta.model_name}_{kind}"
                for kind in ("changelist", "add", "change", "delete", "history")
            }
            # The unnamed "<path:object_id>/" pattern only redirects to the change page.
            if r.name in standard or (r.name is None and r.route == prefix + "<path:object_id>/"):
                if model._meta.label_lower not in policy.ADMIN_MODELS:
                    missing_models.add(model._meta.label_lower)
                continue
        missing_pages.append(r)
    missing_ops = [op for op in api_operations() if op.operation_id not in policy.API]
    missing_actions = [
        f"{label}: {name}"
        for label, model in models.items()
        for name in admin_action_names(model)
        if name != "delete_selected" and name not in policy.ADMIN_ACTIONS.get(label, {})
    ]
    problems = []
    for r in missing_pages:
        problems.append(
            f'URL "{r.route}" (name {r.name!r}) has no policy: add to PAGES in '
            f"tests/security/access_policy.py e.g.\n"
            f'    "{r.route}": page(args={{...}}, GET=SIGNED_IN, POST=NOBODY),'
        )
    for label in sorted(missing_models):
        problems.append(
            f"Admin model {label} has no policy: add to ADMIN_MODELS in "
            f'tests/security/access_policy.py e.g.\n    "{label}": model(rep="v", '
            f'manager="vacd", admin="vacd", scoped=True),'
        )
    for op in missing_ops:
        problems.append(
            f"API operation {op.operation_id} ({op.method} {op.path}) has no policy: add to API "
            f'in tests/security/access_policy.py e.g.\n    "{op.operation_id}": OWN,'
        )
    for entry in missing_actions:
        label, name = entry.split(": ")
        problems.append(
            f"Admin action {name} of {label} has no policy: add to ADMIN_ACTIONS"
            f'["{label}"] in tests/security/access_policy.py the permission it needs, e.g.\n'
            f'    "{name}": "c",'
        )
    assert not problems, "\n".join(problems)


# --- the matrix ----------------------------------------------------------------------------

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def fill(world: World, route: str, args: dict) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        given = args[name]
        if callable(given):
            return str(given(world))
        if isinstance(given, str) and "." in given and given[0].islower() and " " not in given:
            try:
                return str(world.target(apps.get_model(given)).pk)
            except (LookupError, ValueError):
                return given
        return str(given)

    return "/" + _PARAM.sub(value, route).replace("^", "").replace("$", "")


@pytest.mark.parametrize("route", [param(r) for r in policy.PAGES])
def test_page(world, route):
    entry = policy.PAGES[route]
    url = fill(world, route, entry.args)
    cases = []
    # GET is asked of every URL: a form-only view answers it to nobody unless listed.
    for method, expected in {"GET": policy.NOBODY, **entry.methods}.items():
        data = entry.query.get(method) or entry.data.get(method)
        cases.append((method, url, expected, data, False))
    check(world, cases)


def admin_expectation(entry: policy.AdminModel, kind: str, method: str, needs: str = "") -> str:
    def allowed(role: str) -> bool:
        perms = {
            "anonymous": "",
            "rep": entry.rep,
            "rep_other": entry.rep,
            "manager": entry.manager,
            "manager_other": entry.manager,
            "admin": entry.admin,
        }[role]
        perms = "".join(p for p in perms if p not in entry.never)
        if "c" in perms:
            perms += "v"  # the admin lets whoever may change a row see it
        sees_row = not entry.scoped or role in ("rep", "manager", "admin")
        if kind == "changelist":
            return "v" in perms
        if kind == "add":
            return "a" in perms
        if kind in ("change", "history") and method == "GET":
            return "v" in perms and sees_row
        if kind == "change":
            return "c" in perms and sees_row
        if kind == "delete":
            return "d" in perms and sees_row
        # An action: the changelist and the permission the action needs. The rows it acts
        # on are the changelist's, scoped like the change page above (another team's ids
        # select nothing).
        return "v" in perms and needs in perms

    override = entry.overrides.get(f"{method} {kind}")
    return override or "".join("Y" if allowed(role) else "-" for role in ROLES)


@pytest.mark.parametrize("label", [param(label) for label in sorted(admin_models())])
def test_admin_model(world, label):
    entry = policy.ADMIN_MODELS[label]
    model = admin_models()[label]
    pk = world.target(model).pk
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    cases = []
    for kind, method in ADMIN_KINDS:
        url = reverse(f"{info}_{kind}", args=[] if kind in ("changelist", "add") else [pk])
        data = {"post": "yes"} if kind == "delete" else None
        cases.append((method, url, admin_expectation(entry, kind, method), data, False))
    actions = policy.ADMIN_ACTIONS.get(label, {})
    for name in admin_action_names(model):
        needs = "d" if name == "delete_selected" else actions[name]
        data = {"action": name, "_selected_action": [pk], "index": 0}
        url = reverse(f"{info}_changelist")
        expected = entry.overrides.get(name) or admin_expectation(entry, "action", "POST", needs)
        cases.append(("POST", f"{url}#{name}", expected, data, False))
    check(world, cases)


def _api_model(path: str) -> type[Model]:
    view = resolve(path.replace("{id}", "1")).func
    queryset = getattr(view.cls, "queryset", None)
    return queryset.model if queryset is not None else apps.get_model("contacts.Contact")


@pytest.mark.parametrize("operation_id", [param(op.operation_id) for op in api_operations()])
def test_api_operation(world, operation_id):
    op = next(o for o in api_operations() if o.operation_id == operation_id)
    url = op.path.replace("{id}", str(world.target(_api_model(op.path)).pk))
    check(world, [(op.method, url, policy.API[operation_id], {}, True)])


# --- cross-team foreign keys ------------------------------------------------------------
#
# Every admin form and API serializer that names another row is given the other team's
# row (as the rep and as the manager of team A, on a row of team A) and must refuse it:
# an error on that field, or 403/404, and nothing saved. The payload is the form's own
# data for the row, so a new field is covered without touching this test.

FK_ACTORS = ("rep", "manager")


def _scoped(related: type[Model]) -> bool:
    from campaigns.access import visible_queryset

    return visible_queryset(related, None) is not None


def _other_row(world: World, related: type[Model]) -> Model | None:
    if related not in world.rows["B"] or not _scoped(related):
        return None
    other = world.other(related)
    return None if other == world.target(related) else other


def form_data(form) -> dict:
    """The POST data of an unbound form as the browser would send it unchanged."""
    from django.forms import BooleanField, MultiWidget

    data: dict = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        bound = form[name]
        value = bound.value()
        if isinstance(field.widget, MultiWidget):
            parts = field.widget.decompress(value) if not isinstance(value, list) else value
            for i, (widget, part) in enumerate(zip(field.widget.widgets, parts, strict=False)):
                formatted = widget.format_value(part)
                data[f"{bound.html_name}_{i}"] = "" if formatted is None else formatted
        elif isinstance(field, BooleanField):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
        else:
            data[bound.html_name] = "" if value is None else str(value)
    return data


def admin_page_data(response) -> tuple[dict, object]:
    """The data a browser would post back from an admin change/add page, and its form."""
    context = response.context_data
    form = context["adminform"].form
    data = form_data(form)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(form_data(formset.management_form))
        for sub in formset.forms:
            data.update(form_data(sub))
    return data, form


def fk_fields(form) -> dict[str, type[Model]]:
    from django.forms import ModelChoiceField

    return {
        name: field.queryset.model
        for name, field in form.fields.items()
        if isinstance(field, ModelChoiceField) and not field.disabled
    }


def _admin_form_errors(response) -> dict:
    context = getattr(response, "context_data", None) or {}
    adminform = context.get("adminform")
    return dict(adminform.form.errors) if adminform is not None else {}


def admin_fk_refusals(world: World, label: str) -> list[str]:
    """Each FK of the model's admin change and add forms set to another team's row."""
    model = admin_models()[label]
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    target = world.target(model)
    urls = {"change": reverse(f"{info}_change", args=[target.pk]), "add": reverse(f"{info}_add")}
    wrong: list[str] = []
    for actor in FK_ACTORS:
        client, _ = world.clients[actor]  # type: ignore[attr-defined]
        pages = {mode: client.get(url) for mode, url in urls.items()}
        reachable = {
            mode: admin_page_data(page)
            for mode, page in pages.items()
            if page.status_code == 200 and "adminform" in (page.context_data or {})
        }
        for mode, (page_data, form) in reachable.items():
            # "add" copies the own row's values into the empty form (the own row is deleted
            # in the transaction first, so a unique constraint cannot refuse the copy), so
            # only the FK under test is wrong.
            base = {**page_data, **_row_data(form, target)} if mode == "add" else page_data
            for name, related in fk_fields(form).items():
                other = _other_row(world, related)
                if other is None:
                    continue
                FK_CASES["admin form"] += 1
                field = model._meta.get_field(name)
                data = {**base, name: [str(other.pk)] if field.many_to_many else str(other.pk)}
                problem = _post_and_check(
                    client, urls[mode], data, model, target, field, other, mode
                )
                if problem:
                    wrong.append(f"{actor} {mode} {label}.{name}={other!r}: {problem}")
    return wrong


def _row_data(form, row: Model) -> dict:
    """The main form's fields filled with the row's values, as posted."""
    from django.forms.models import model_to_dict

    try:
        filled = type(form)(initial=model_to_dict(row), prefix=form.prefix)
    except TypeError:  # a form that needs more to be built: leave "add" to its own data
        return {}
    return form_data(filled)


def _refers_to(model: type[Model], field, other: Model):
    return model.objects.filter(**{field.name: other})


def _post_and_check(client, url, data, model, target, field, other, mode) -> str:
    """Post in a rolled-back transaction; what went wrong, or "" if the write was refused."""
    with rolled_back(client):
        if mode == "add":
            with contextlib.suppress(ProtectedError, RestrictedError), transaction.atomic():
                model.objects.filter(pk=target.pk).delete()
        before = _refers_to(model, field, other).count()
        response = client.post(url, data)
        after = _refers_to(model, field, other).count()
        if mode == "change":
            target_now = model.objects.filter(pk=target.pk, **{field.name: other}).exists()
    if response.status_code >= 500:
        return "server error"
    if mode == "change" and target_now:
        return "saved"
    if after > before:
        return "created"
    if response.status_code in (403, 404) or classify(response) == "-":
        return ""
    errors = _admin_form_errors(response)
    if response.status_code == 200 and field.name in errors:
        return ""
    if response.status_code == 200 and errors:
        return f"refused for another reason (fix the payload): {errors}"
    return f"neither saved nor refused on the field (status {response.status_code})"


FK_ADMIN_LABELS = sorted(admin_models())


@pytest.mark.parametrize("label", [param(f"fk:{label}") for label in FK_ADMIN_LABELS])
def test_admin_form_refuses_another_teams_rows(world, label):
    wrong = admin_fk_refusals(world, label.removeprefix("fk:"))
    assert not wrong, "\n".join(wrong)


def _serializer_class(op: Operation):
    match = resolve(op.path.replace("{id}", "1"))
    cls = match.func.cls
    if not hasattr(match.func, "actions"):  # a plain APIView (the token endpoint)
        return cls, getattr(cls, "serializer_class", None)
    view = cls(action=match.func.actions[op.method.lower()], format_kwarg=None, kwargs={})
    return cls, view.get_serializer_class()


def api_fk_fields(op: Operation) -> dict[str, tuple[type[Model], str]]:
    """Writable fields naming rows: payload field -> (related model, model field)."""
    from rest_framework.relations import ManyRelatedField, RelatedField

    explicit = policy.API_ID_FIELDS.get(op.operation_id, {})
    found = {name: (apps.get_model(label), f) for name, (label, f) in explicit.items()}
    _, serializer_class = _serializer_class(op)
    match = resolve(op.path.replace("{id}", "1"))
    action = getattr(match.func, "actions", {}).get(op.method.lower())
    # A custom action (bulk-upsert, reply, launch...) reads its own serializer, which
    # get_serializer_class does not name: those list their id fields in API_ID_FIELDS.
    if serializer_class is None or action not in ("create", "update", "partial_update"):
        return found
    for name, field in serializer_class().fields.items():
        if field.read_only:
            continue
        relation = field.child_relation if isinstance(field, ManyRelatedField) else field
        if isinstance(relation, RelatedField) and relation.queryset is not None:
            found[name] = (relation.queryset.model, field.source)
    return found


API_WRITES = [op for op in api_operations() if op.method in ("POST", "PUT", "PATCH")]


def api_fk_refusals(world: World, op: Operation) -> list[str]:
    cls, serializer_class = _serializer_class(op)
    model = cls.queryset.model if getattr(cls, "queryset", None) is not None else None
    explicit_base = policy.API_ID_FIELDS.get(op.operation_id)
    wrong = []
    for name, (related, model_field) in api_fk_fields(op).items():
        other = _other_row(world, related)
        if other is None or model is None:
            continue
        target = world.target(model)
        if explicit_base is not None:
            base = {
                key: (
                    [world.target(apps.get_model(lbl)).pk]
                    if key.endswith("s")
                    else world.target(apps.get_model(lbl)).pk
                )
                for key, (lbl, _) in explicit_base.items()
            }
        else:
            writable = {n for n, f in serializer_class().fields.items() if not f.read_only}
            base = {
                k: v for k, v in serializer_class(instance=target).data.items() if k in writable
            }
        many = isinstance(base.get(name), list)
        url = op.path.replace("{id}", str(target.pk))
        for actor in FK_ACTORS:
            FK_CASES["API serializer"] += 1
            _, api = world.clients[actor]  # type: ignore[attr-defined]
            payload = {**base, name: [other.pk] if many else other.pk}
            lookup = {model_field: other}
            with rolled_back(api):
                before = model.objects.filter(**lookup).count()
                response = getattr(api, op.method.lower())(url, payload, format="json")
                after = model.objects.filter(**lookup).count()
                saved = "{id}" in op.path and model.objects.filter(pk=target.pk, **lookup).exists()
            problem = ""
            if response.status_code >= 500:
                problem = "server error"
            elif saved:
                problem = "saved"
            elif after > before:
                problem = "created"
            elif response.status_code == 400 and name not in (response.json() or {}):
                problem = f"refused for another reason (fix the payload): {response.json()}"
            if problem:
                wrong.append(f"{actor} {op.method} {url} {name}={other!r}: {problem}")
    return wrong


@pytest.mark.parametrize("operation_id", [param(f"fk:{op.operation_id}") for op in API_WRITES])
def test_api_refuses_another_teams_rows(world, operation_id):
    op = next(o for o in API_WRITES if o.operation_id == operation_id.removeprefix("fk:"))
    wrong = api_fk_refusals(world, op)
    assert not wrong, "\n".join(wrong)


def _form_errors(response) -> dict:
    errors: dict = {}
    for context in response.context or []:
        for value in context.flatten().values() if hasattr(context, "flatten") else []:
            if hasattr(value, "errors") and hasattr(value, "fields"):
                errors.update(getattr(value, "errors", {}) or {})
    return errors


def _resolve_value(world: World, value):
    if value == "csv":
        from django.core.files.uploadedfile import SimpleUploadedFile

        return SimpleUploadedFile("m.csv", b"email\nmatrix@example.com\n", "text/csv")
    if callable(value):
        return value(world)
    if isinstance(value, str) and "." in value and value[0].islower():
        with contextlib.suppress(LookupError, ValueError):
            return str(world.target(apps.get_model(value)).pk)
    return value


def _post_counting(client, url: str, data: dict, stored) -> tuple[object, int]:
    """POST in a rolled-back transaction; the response and how many rows it added to
    ``stored`` (a queryset, or None)."""
    with rolled_back(client):
        before = stored.count() if stored is not None else 0
        response = client.post(url, data)
        added = (stored.count() if stored is not None else 0) - before
    return response, added


def _stored(writes: str, row: Model):
    if not writes:
        return None
    app_label, model_name, field_name = writes.split(".")
    return apps.get_model(app_label, model_name).objects.filter(**{field_name: row})


@pytest.mark.parametrize("key", [param(f"fk:{key}") for key in policy.APP_FORMS])
def test_app_form_refuses_another_teams_rows(world, key):
    entry = policy.APP_FORMS[key.removeprefix("fk:")]
    url = fill(world, entry.route, entry.args)
    wrong = []
    for name, (label, writes, *shape) in entry.fields.items():
        value_of = (shape[0] if shape else "{pk}").format
        related = apps.get_model(label)
        other = _other_row(world, related)
        assert other is not None, f"the world has no other team's {label}"
        for actor in FK_ACTORS:
            client, _ = world.clients[actor]  # type: ignore[attr-defined]
            data = {k: _resolve_value(world, v) for k, v in entry.data.items()}
            if writes:
                # The same post naming the actor's own row must write it: the payload is
                # good, so a refusal below is the scoping's (a 403/404 skips the actor).
                own = world.target(related)
                data[name] = value_of(pk=own.pk)
                response, added = _post_counting(client, url, data, _stored(writes, own))
                if response.status_code in (403, 404):
                    continue
                if added < 1 and response.status_code < 500:
                    errors = _form_errors(response)
                    wrong.append(
                        f"{actor} {name}: own row not written either (fix the data) {errors}"
                    )
                    continue
                data = {k: _resolve_value(world, v) for k, v in entry.data.items()}
            FK_CASES["app form"] += 1
            data[name] = value_of(pk=other.pk)
            response, added = _post_counting(client, url, data, _stored(writes, other))
            if response.status_code >= 500:
                wrong.append(f"{actor} {name}: server error")
            elif added > 0:
                wrong.append(f"{actor} {name}={other!r}: written")
            elif response.status_code in (403, 404) or name in _form_errors(response):
                continue
            elif not writes:
                wrong.append(f"{actor} {name}={other!r}: accepted (status {response.status_code})")
    assert not wrong, f"POST {url}\n" + "\n".join(wrong)


# --- menus and pages show nothing of another team -----------------------------------------
#
# Every page alice (rep) and mia (manager) of team A may open, app and admin alike, is
# scanned for what only team B's rows carry: their contact, campaign, sender, import,
# trigger and user names. A menu listing another team's rows fails here.

OTHER_TEAM_MARKS = (
    re.compile(r"BobLead|bob campaign|BobMail|lead2@example\.com|bob\.csv|bob trigger"),
    re.compile(r">\s*(bob|max)\s*<"),  # a user in a menu
)


def _leaks(response) -> list[str]:
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return []
    html = response.content.decode(errors="replace")
    return sorted({m.group(0) for rx in OTHER_TEAM_MARKS for m in rx.finditer(html)})


def _page_urls(world: World, key: str) -> list[str]:
    if key.startswith("admin:"):
        model = admin_models()[key.removeprefix("admin:")]
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pk = world.target(model).pk
        return [
            reverse(f"{info}_changelist"),
            reverse(f"{info}_add"),
            reverse(f"{info}_change", args=[pk]),
        ]
    entry = policy.PAGES[key]
    url = fill(world, key, entry.args)
    query = entry.query.get("GET")
    return [url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")]


LEAK_PAGES = [
    r for r, e in policy.PAGES.items() if "GET" in e.methods and e.methods["GET"][1] == "Y"
] + [f"admin:{label}" for label in sorted(admin_models())]


@pytest.mark.parametrize("key", [param(f"menu:{key}") for key in LEAK_PAGES])
def test_pages_show_nothing_of_another_team(world, key):
    wrong = []
    for url in _page_urls(world, key.removeprefix("menu:")):
        for actor in FK_ACTORS:
            client, _ = world.clients[actor]  # type: ignore[attr-defined]
            with rolled_back(client):
                response = client.get(url)
            RESULTS["scanned"] += 1
            leaks = _leaks(response)
            if leaks:
                wrong.append(f"{actor} GET {url}: shows {', '.join(leaks)}")
    assert not wrong, "\n".join(wrong)


# --- "not yours" answers as "not found" -------------------------------------------------
#
# Another team's row and a row that does not exist get the same answer from the API, so
# ids cannot be probed for existence (issue #16).


def _refused_roles(operation_id: str) -> list[str]:
    expected = policy.API.get(operation_id, "")
    return [r for r in ("rep_other", "manager_other") if expected[ROLES.index(r)] == "-"]


API_DETAIL_OPS = [
    op for op in api_operations() if "{id}" in op.path and _refused_roles(op.operation_id)
]
MISSING_PK = 987654321


@pytest.mark.parametrize("operation_id", [param(f"404:{op.operation_id}") for op in API_DETAIL_OPS])
def test_api_answers_another_teams_row_as_not_found(world, operation_id):
    op = next(o for o in API_DETAIL_OPS if o.operation_id == operation_id.removeprefix("404:"))
    theirs = op.path.replace("{id}", str(world.target(_api_model(op.path)).pk))
    missing = op.path.replace("{id}", str(MISSING_PK))
    wrong = []
    for role in _refused_roles(op.operation_id):
        _, api = world.clients[role]  # type: ignore[attr-defined]
        answers = []
        for url in (theirs, missing):
            with rolled_back(api):
                if op.method in ("GET", "DELETE"):
                    response = getattr(api, op.method.lower())(url)
                else:
                    response = getattr(api, op.method.lower())(url, {}, format="json")
            answers.append((response.status_code, response.content))
        if answers[0] != answers[1]:
            wrong.append(f"{role} {op.method}: theirs {answers[0]!r} != missing {answers[1]!r}")
    assert not wrong, "\n".join(wrong)
