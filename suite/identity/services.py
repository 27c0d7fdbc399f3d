"""Writes on identity: users, organizations, teams."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from suite.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from suite.identity.audit import record_audit
from suite.identity.models import (
    AuditAction,
    Organization,
    Team,
    TeamMembership,
    TeamRole,
    User,
)

TEAM_NAME_MAX = 100


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(_("Enter a valid email address."), details={"email": email}) from None
    return email


def organization_for(
    *, registration_id: str | None = None, name: str | None = None, email: str | None = None
) -> Organization | None:
    """The organization a user belongs to: by registration id (created on first sight, as
    ProConnect's ``siret`` is authoritative), else by a configured mail domain."""
    if registration_id:
        organization, created = Organization.objects.get_or_create(
            registration_id=registration_id,
            defaults={"name": name or registration_id},
        )
        if not created and name and organization.name == organization.registration_id:
            organization.name = name
            organization.save(update_fields=["name"])
        return organization
    if email and "@" in email:
        domain = email.rsplit("@", 1)[1].lower()
        return Organization.objects.filter(mail_domains__contains=[domain]).order_by("name").first()
    return None


def user_create(
    *,
    email: str,
    full_name: str = "",
    password: str | None = None,
    is_admin: bool = False,
    is_bot: bool = False,
    language: str | None = None,
    actor: Any = None,
) -> User:
    email = normalize_email(email)
    if password is not None and not settings.SUITE_LOCAL_ACCOUNTS:
        raise ValidationFailed(
            _("Local password accounts are disabled (SUITE_LOCAL_ACCOUNTS)."),
            details={"setting": "SUITE_LOCAL_ACCOUNTS"},
        )
    if language is not None and language not in dict(settings.LANGUAGES):
        raise ValidationFailed(_("Unsupported language."), details={"language": language})
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            raise Conflict(_("A user with this email already exists."), code="user_exists")
        user = User.objects.create_user(
            email,
            password=password,
            full_name=full_name.strip(),
            is_staff=is_admin,
            is_superuser=is_admin,
            is_bot=is_bot,
            language=language,
            organization=organization_for(email=email),
        )
        record_audit(AuditAction.USER_CREATED, actor=actor, target=user, bot=is_bot, admin=is_admin)
    return user


def user_update_profile(
    *, actor: User, full_name: str | None = None, short_name: str | None = None,
    language: str | None = None, timezone: str | None = None,
) -> User:
    fields = []
    if full_name is not None:
        actor.full_name = full_name.strip()[:255]
        fields.append("full_name")
    if short_name is not None:
        actor.short_name = short_name.strip()[:100]
        fields.append("short_name")
    if language is not None:
        if language not in dict(settings.LANGUAGES):
            raise ValidationFailed(_("Unsupported language."), details={"language": language})
        actor.language = language
        fields.append("language")
    if timezone is not None:
        actor.timezone = timezone
        try:
            actor.full_clean(validate_unique=False, exclude=["password", "email"])
        except ValidationError as exc:
            raise ValidationFailed(details=exc.message_dict) from None
        fields.append("timezone")
    if fields:
        actor.save(update_fields=[*fields, "updated_at"])
    return actor


# --- Teams ------------------------------------------------------------------------------


def _validate_team_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > TEAM_NAME_MAX:
        raise ValidationFailed(
            _("A team name needs 1 to %(max)s characters.") % {"max": TEAM_NAME_MAX},
            details={"name": name},
        )
    return name


def team_membership_role(team: Team, user: Any) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        TeamMembership.objects.filter(team=team, user_id=user.pk).values_list("role", flat=True).first()
    )


def access_team(actor: Any, team_id: Any, *, manage: bool = False) -> Team:
    """The team ``team_id`` if ``actor`` is a member (an administrator when ``manage``);
    missing and not-a-member are the same 404."""
    from suite.access.resolve import parse_pk

    pk = parse_pk(Team, team_id)
    team = Team.objects.filter(pk=pk, memberships__user_id=actor.pk).first() if pk else None
    if team is None:
        raise NotFound()
    if manage and team_membership_role(team, actor) != TeamRole.ADMINISTRATOR:
        raise PermissionDenied(_("Only team administrators can do this."))
    return team


def team_create(*, actor: User, name: str) -> Team:
    name = _validate_team_name(name)
    with transaction.atomic():
        team = Team(name=name, organization=actor.organization, created_by=actor)
        team.group = Group.objects.create(name=f"team:{team.id}")
        team.save()
        TeamMembership.objects.create(team=team, user=actor, role=TeamRole.ADMINISTRATOR)
        actor.groups.add(team.group)
    return team


def team_rename(*, actor: User, team_id: Any, name: str) -> Team:
    with transaction.atomic():
        team = access_team(actor, team_id, manage=True)
        team.name = _validate_team_name(name)
        team.save(update_fields=["name", "updated_at"])
    return team


def team_delete(*, actor: User, team_id: Any) -> None:
    with transaction.atomic():
        team = access_team(actor, team_id, manage=True)
        group = team.group
        team.delete()
        group.delete()


def _administrator_count(team: Team) -> int:
    return TeamMembership.objects.filter(team=team, role=TeamRole.ADMINISTRATOR).count()


def team_member_add(
    *, actor: User, team_id: Any, user_id: Any, role: str = TeamRole.MEMBER, request: Any = None
) -> TeamMembership:
    if role not in TeamRole.values:
        raise ValidationFailed(_("Unknown role."), details={"role": role, "allowed": list(TeamRole.values)})
    from suite.access.resolve import parse_pk

    with transaction.atomic():
        team = access_team(actor, team_id, manage=True)
        pk = parse_pk(User, user_id)
        user = User.objects.filter(pk=pk, is_active=True).first() if pk else None
        if user is None:
            raise NotFound(_("No such user."), details={"user": str(user_id)})
        try:
            with transaction.atomic():
                membership = TeamMembership.objects.create(team=team, user=user, role=role)
        except IntegrityError:
            raise Conflict(_("This user is already a member."), code="member_exists") from None
        user.groups.add(team.group)
        record_audit(
            AuditAction.TEAM_MEMBER_ADDED, actor=actor, target=team, request=request,
            user=str(user.pk), role=role,
        )
    return membership


def team_member_update(*, actor: User, team_id: Any, user_id: Any, role: str) -> TeamMembership:
    if role not in TeamRole.values:
        raise ValidationFailed(_("Unknown role."), details={"role": role, "allowed": list(TeamRole.values)})
    with transaction.atomic():
        team = access_team(actor, team_id, manage=True)
        membership = (
            TeamMembership.objects.select_for_update().filter(team=team, user_id=user_id).first()
        )
        if membership is None:
            raise NotFound()
        if (
            membership.role == TeamRole.ADMINISTRATOR
            and role != TeamRole.ADMINISTRATOR
            and _administrator_count(team) == 1
        ):
            raise Conflict(_("A team needs at least one administrator."), code="last_administrator")
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def team_member_remove(*, actor: User, team_id: Any, user_id: Any, request: Any = None) -> None:
    with transaction.atomic():
        leaving = str(user_id) == str(actor.pk)
        team = access_team(actor, team_id, manage=not leaving)
        membership = (
            TeamMembership.objects.select_for_update()
            .select_related("user")
            .filter(team=team, user_id=user_id)
            .first()
        )
        if membership is None:
            raise NotFound()
        if membership.role == TeamRole.ADMINISTRATOR and _administrator_count(team) == 1:
            raise Conflict(_("A team needs at least one administrator."), code="last_administrator")
        membership.user.groups.remove(team.group)
        membership.delete()
        record_audit(
            AuditAction.TEAM_MEMBER_REMOVED, actor=actor, target=team, request=request,
            user=str(user_id),
        )
