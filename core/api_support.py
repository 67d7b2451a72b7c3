"""Shared REST API plumbing: role permissions, row-scoped relations and filters, per-token
throttling, idempotency keys.

In the lowest app so every app's api.py can use it (apps import one way only).
"""

import functools
from collections.abc import Callable, Mapping
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.http.request import RawPostDataException
from django_filters.rest_framework import DjangoFilterBackend, FilterSet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from core.idempotency import (
    KeyConflict,
    idempotency_begin,
    idempotency_finish,
    request_fingerprint,
)


class RolePermissions(permissions.DjangoModelPermissions):
    """Model permissions of the user's role group, including "view" for reads.

    Which rows are visible is decided by each viewset's queryset (the *_visible_to
    functions); this only decides which kinds of action a role may take.
    """

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class ScopedRelationsMixin:
    """Every writable relation of a serializer limited to the rows the requesting user may
    see or name, so another team's contact (or sender, campaign, owner ...) is refused with
    DRF's own 'Invalid pk "N" - object does not exist.', word for word what a missing id
    gets: a client cannot tell the two apart.

    ``scoped`` maps field names to the ``*_visible_to`` function (or owners_assignable_by)
    that narrows them; a many-to-many field is narrowed through its child relation. A
    serializer built without a request (rendering a response) keeps its querysets, which
    matter only for input.
    """

    scoped: Mapping[str, Callable[[Any], QuerySet]] = {}
    # Provided by the serializer this is mixed into.
    context: Mapping[str, Any]
    fields: Mapping[str, Any]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        for name, visible_to in self.scoped.items():
            field = self.fields[name]
            field = getattr(field, "child_relation", field)
            field.queryset = (
                visible_to(request.user) if request is not None else field.queryset.none()
            )


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A related row by id, without checking that the id exists."""

    field_class = forms.IntegerField


class IdFilterSet(FilterSet):
    """Filters on a relation (``?contact=7``) match ids instead of looking the row up: the
    stock ModelChoiceFilter answers 400 for an id that does not exist but an empty page for
    another team's row, which told clients what exists elsewhere. Now both are an empty
    page, and the viewset's queryset still decides what is listed."""

    FILTER_DEFAULTS = {
        **FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": IdFilter},
        models.OneToOneField: {"filter_class": IdFilter},
    }


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend with relations filtered by id (see IdFilterSet)."""

    filterset_base = IdFilterSet


class TokenRateThrottle(SimpleRateThrottle):
    """API_RATE_LIMIT requests per token (per user for session auth), counted in the cache."""

    scope = "token"

    def get_rate(self) -> str:
        # Read at request time, not import time, so the setting can change in tests.
        return settings.API_RATE_LIMIT

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        digest = getattr(request.auth, "digest", None)
        if digest:
            # The key itself is nowhere but in the request; its digest names the bucket.
            ident = "t" + digest[:32]
        elif request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            ident = "a" + (self.get_ident(request) or "")
        return f"throttle_token_{ident}"


def exception_handler(exc, context):
    """DRF's handler, plus Django model validation errors as 400s with field errors."""
    # Imported here: rest_framework.views imports the permission class above at load time.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)


def _body(request) -> bytes:
    try:
        return request._request.body
    except RawPostDataException:  # already parsed by something upstream
        return repr(sorted(request.data.items())).encode()


class _Rollback(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


# For the schema: each idempotent view declares it with @extend_schema(parameters=[...]).
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": 255},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (at most 255 characters). A retry with the same key "
    "returns the first response, marked Idempotent-Replayed, instead of doing the work again.",
)


def idempotent(view_method):
    """Honour an ``Idempotency-Key`` header on a POST that creates things (the schema
    declares it through IDEMPOTENCY_KEY).

    The key row, the work and the stored response share one transaction: a retry that
    arrives while the first request runs waits on the key's unique index, then replays.
    A request that fails (4xx/5xx) stores nothing, so the client may fix it and retry.
    """

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 255:
            raise exceptions.ValidationError({"Idempotency-Key": "At most 255 characters."})
        fingerprint = request_fingerprint(
            method=request.method, path=request.get_full_path(), body=_body(request)
        )
        try:
            with transaction.atomic():
                replay = idempotency_begin(user=request.user, key=key, fingerprint=fingerprint)
                if replay is not None:
                    response = Response(replay.body, status=replay.status_code)
                    response["Idempotent-Replayed"] = "true"
                    return response
                response = view_method(self, request, *args, **kwargs)
                if response.status_code >= 400:
                    raise _Rollback(response)
                idempotency_finish(
                    user=request.user,
                    key=key,
                    status_code=response.status_code,
                    body=response.data,
                )
                return response
        except _Rollback as rollback:
            return rollback.response
        except KeyConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)

    return wrapper
