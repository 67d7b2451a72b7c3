"""Invitations: an admin or a manager invites someone by email with a role and a team.

The emailed link carries a signed token (the invitation's id and address); it works once,
until ``expires_at``, unless revoked. Accepting it creates an active user in the role's
group and the team, who then logs in like everyone else (templates/accounts/).

Who may invite whom (the policy README.md "Roles" states): an admin any role into any team
(or none); a manager reps only, into the teams they manage.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone

from core.access import ADMIN, MANAGER, REP, role_of
from core.teams import Team

VALID_DAYS = 7
_SALT = "contacts.invitation"


class Invitation(models.Model):
    class Role(models.TextChoices):
        # The role groups' names (core/access.py).
        REP = "rep", "Rep"
        MANAGER = "manager", "Manager"
        ADMIN = "admin", "Admin"

    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.REP)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The user who accepted it.",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "contacts"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} as {self.get_role_display()}"

    @property
    def problem(self) -> str:
        """Why the link no longer works, or "" while it does."""
        if self.revoked_at:
            return "This invitation was withdrawn."
        if self.accepted_at:
            return "This invitation has already been used."
        if self.expires_at <= timezone.now():
            return "This invitation has expired."
        return ""


def roles_invitable_by(user) -> list[str]:
    role = role_of(user)
    if role == ADMIN:
        return [REP, MANAGER, ADMIN]
    if role == MANAGER:
        return [REP]
    return []


def teams_invitable_by(user) -> models.QuerySet[Team]:
    role = role_of(user)
    if role == ADMIN:
        return Team.objects.all()
    if role == MANAGER:
        return Team.objects.filter(managers=user)
    return Team.objects.none()


def invitations_visible_to(user) -> models.QuerySet[Invitation]:
    """Admins see every invitation; a manager those into their teams or sent by them."""
    role = role_of(user)
    qs = Invitation.objects.select_related("team", "invited_by")
    if role == ADMIN:
        return qs
    if role == MANAGER:
        return qs.filter(models.Q(team__managers=user) | models.Q(invited_by=user)).distinct()
    return qs.none()


def invitation_check(*, inviter, role: str, team: Team | None) -> None:
    """The rule, checked again on save whatever the form offered."""
    if role not in roles_invitable_by(inviter):
        raise ValidationError("You may not invite someone with this role.")
    if team is not None and not teams_invitable_by(inviter).filter(pk=team.pk).exists():
        raise ValidationError("You may not invite someone into this team.")
    if team is None and role_of(inviter) != ADMIN:
        raise ValidationError("Choose one of your teams.")


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"id": invitation.pk, "email": invitation.email}, salt=_SALT)


def invitation_from_token(token: str) -> Invitation | None:
    """The invitation a link names, or None when the token is not one we signed."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=timedelta(days=VALID_DAYS))
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return None
    return Invitation.objects.filter(pk=data["id"], email=data.get("email")).first()


def invitation_link(invitation: Invitation) -> str:
    # PUBLIC_URL, like unsubscribe links: the Host header of the inviter's request is not
    # trusted to build a link that carries a credential.
    path = reverse("invitation_accept", args=[invitation_token(invitation)])
    return settings.PUBLIC_URL.rstrip("/") + path


def invitation_create(*, inviter, email: str, role: str, team: Team | None) -> Invitation:
    invitation_check(inviter=inviter, role=role, team=team)
    invitation = Invitation.objects.create(
        email=email,
        role=role,
        team=team,
        invited_by=inviter,
        expires_at=timezone.now() + timedelta(days=VALID_DAYS),
    )
    where = f" in team {team}" if team else ""
    send_mail(
        subject="You are invited to DM Outreach Engine",
        message=(
            f"{inviter.get_username()} invites you to join DM Outreach Engine as "
            f"{invitation.get_role_display().lower()}{where}.\n\n"
            f"Choose a username and password here (the link works once, for "
            f"{VALID_DAYS} days):\n{invitation_link(invitation)}\n"
        ),
        from_email=None,
        recipient_list=[email],
    )
    return invitation


def invitation_revoke(*, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        revoked_at=timezone.now()
    )


class UsernameTaken(ValidationError):
    """The chosen username exists: the invitation stays open for another try."""


def invitation_accept(*, invitation: Invitation, username: str, password: str):
    """Creates the invited user (active, in the role's group and the team) once."""
    User = get_user_model()
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.problem:
            raise ValidationError(locked.problem)
        # Staff status opens the admin site, where contacts and deals are edited (scoped to
        # the role); an admin may untick it to keep a user to the app pages and the API.
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username, locked.email, password, is_staff=True, is_superuser=False
                )
        except IntegrityError:
            # The form checked the name was free; someone took it since (two invitations
            # accepted at once with the same name). Say so instead of failing with a 500.
            raise UsernameTaken("That username was just taken; choose another.") from None
        user.groups.add(Group.objects.get(name=locked.role))
        if locked.team is not None:
            if locked.role == MANAGER:
                locked.team.managers.add(user)
            else:
                locked.team.members.add(user)
        locked.accepted_at, locked.user = timezone.now(), user
        locked.save(update_fields=["accepted_at", "user"])
    return user
