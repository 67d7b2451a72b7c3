"""Roles, teams and the scoping mixins every app's admin and API build on.

Roles are Django groups created by a migration (campaigns/migrations/*_roles): "admin"
sees everything, "manager" sees what the reps of their teams own, "rep" sees their own.
Every interface (admin, API, inbox, dashboards) filters through the ``*_visible_to``
functions of each app (contacts/access.py, outreach/access.py, campaigns/access.py), which
build on ``visible_owner_ids`` here.
"""

from collections.abc import Callable
from typing import Any

from django.contrib.admin.filters import RelatedFieldListFilter
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, QuerySet

from core.teams import Team

ADMIN, MANAGER, REP = "admin", "manager", "rep"


def role_of(user) -> str | None:
    """The user's strongest role, or None for anonymous and inactive users."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))
    for role in (ADMIN, MANAGER, REP):
        if role in names:
            return role
    # Authenticated without a role: treated as a rep (sees only what they own).
    return REP


def visible_owner_ids(user) -> set[int] | None:
    """Ids of the users whose rows this user sees; None means every row."""
    role = role_of(user)
    if role is None:
        return set()
    if role == ADMIN:
        return None
    ids = {user.pk}
    if role == MANAGER:
        ids |= set(
            Team.objects.filter(managers=user).values_list("members", flat=True).distinct()
        ) - {None}
    return ids


class ScopedChoicesMixin:
    """Every foreign key and many-to-many form field of an admin (or inline) narrowed to
    the rows the user may pick, so a submitted id outside them fails the field's own
    validation ("Select a valid choice") and nothing is written.

    ``choices_visible_to(model, user)`` gives those rows, or None for a model shared by
    every team; campaigns.security_admin.scope_admin sets it to
    campaigns.access.visible_queryset (this app cannot import the ones above it). Users
    (owner, assignee, actor) are narrowed to owners_assignable_by.

    Narrowing applies to existing rows too: a manager editing a row whose owner is outside
    their teams (set by an admin) must pick an owner they may name to save it.
    """

    choices_visible_to: Callable[[type, Any], QuerySet | None] | None = None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
        return self._narrowed(field, db_field, request.user)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        return self._narrowed(field, db_field, request.user)

    def get_autocomplete_fields(self, request):
        # The user list is an admin's to search: others get a plain menu of the few users
        # they may name (the user admin refuses them its autocomplete anyway).
        fields = super().get_autocomplete_fields(request)  # type: ignore[misc]
        if role_of(request.user) == ADMIN:
            return fields
        return [name for name in fields if not _points_to_users(self.model, name)]  # type: ignore[attr-defined]

    def get_list_filter(self, request):
        # The sidebar's owner, campaign or sender menus name only rows the user may see.
        filters = super().get_list_filter(request)  # type: ignore[misc]
        if role_of(request.user) == ADMIN:
            return filters
        return [
            (f, VisibleRelatedListFilter)
            if isinstance(f, str) and _related_model(self.model, f) is not None  # type: ignore[attr-defined]
            else f
            for f in filters
        ]

    def choices_for(self, model: type, user) -> QuerySet | None:
        """The rows of ``model`` the user may pick here; None: every row."""
        visible_to = type(self).choices_visible_to  # the plain function
        if visible_to is None or role_of(user) == ADMIN:
            return None
        return owners_assignable_by(user) if model is _user_model() else visible_to(model, user)

    def _narrowed(self, field, db_field, user):
        allowed = None if field is None else self.choices_for(db_field.remote_field.model, user)
        if allowed is not None:
            field.queryset = field.queryset.filter(pk__in=allowed.values("pk"))
        return field


class VisibleRelatedListFilter(RelatedFieldListFilter):
    """The admin's related-field filter, listing only the rows the user may pick."""

    def field_choices(self, field, request, model_admin):
        allowed = model_admin.choices_for(field.related_model, request.user)
        if allowed is None:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            limit_choices_to={"pk__in": allowed.values("pk")},
            ordering=ordering,
        )


class ScopedAdminMixin(ScopedChoicesMixin):
    """Admin rows limited to what ``visible_to(user)`` returns; others are "not found".
    Its form fields offer only what the user may pick (ScopedChoicesMixin).

    Set ``visible_to`` to one of the ``*_visible_to`` functions (None: every row, for a
    model shared by every team). Put the mixin first in the bases so it wraps the admin's
    own get_queryset (annotations stay intact).
    """

    visible_to: Callable[..., QuerySet] | None = None

    def get_queryset(self, request):
        qs = super().get_queryset(request)  # type: ignore[misc]
        if self.visible_to is None or role_of(request.user) == ADMIN:
            return qs
        visible_to = type(self).visible_to
        assert visible_to is not None
        return qs.filter(pk__in=visible_to(request.user).values("pk"))

    def _may_see(self, request, obj: Model | None) -> bool:
        visible_to = type(self).visible_to  # the plain function, not bound to the admin
        if obj is None or visible_to is None:
            return True
        return visible_to(request.user).filter(pk=obj.pk).exists()

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) and self._may_see(request, obj)  # type: ignore[misc]

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._may_see(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_see(request, obj)  # type: ignore[misc]


def _user_model() -> type:
    from django.contrib.auth import get_user_model

    return get_user_model()


def _points_to_users(model: type[Model], name: str) -> bool:
    return _related_model(model, name) is _user_model()


def _related_model(model: type[Model], name: str) -> type | None:
    """The model a field (``sender`` or ``sender__owner``) points to, or None."""
    for part in name.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        if not field.is_relation:
            return None
        model = field.related_model  # type: ignore[assignment]
    return model


def users_visible_to(user) -> QuerySet:
    """Users this user may see named in menus (owner, assignee): admins see everyone, a
    manager their teams' members and themselves, a rep only themselves."""
    from django.contrib.auth import get_user_model

    qs = get_user_model().objects.filter(is_active=True)
    ids = visible_owner_ids(user)
    return qs if ids is None else qs.filter(pk__in=ids)


def owners_assignable_by(user) -> QuerySet:
    """Users this user may make the owner (or assignee) of a row they can change.

    The same set as users_visible_to: a rep may only name themselves, a manager anyone in
    the teams they manage, an admin anyone active. Every form, admin page and serializer
    that sets an owner narrows its choices to this and checks it again on save."""
    return users_visible_to(user)


def teams_visible_to(user) -> QuerySet[Team]:
    """Teams the user manages or belongs to; every team for an admin."""
    role = role_of(user)
    if role is None:
        return Team.objects.none()
    if role == ADMIN:
        return Team.objects.all()
    from django.db.models import Q

    return Team.objects.filter(Q(managers=user) | Q(members=user)).distinct()
