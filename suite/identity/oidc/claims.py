"""Mapping verified OIDC claims onto a :class:`User` (login and bearer tokens alike)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from suite.identity.audit import record_audit
from suite.identity.models import AuditAction, User
from suite.identity.services import organization_for


class LoginRefused(Exception):
    """Claims that cannot be mapped to a user who may sign in."""

    def __init__(self, reason: str, *, sub: Any = None, email: str = ""):
        super().__init__(reason)
        self.reason, self.sub, self.email = reason, sub, email


def email_from_claims(claims: dict[str, Any]) -> str:
    value = claims.get(settings.OIDC_CLAIM_EMAIL)
    email = value.strip().lower() if isinstance(value, str) else ""
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email


def full_name_from_claims(claims: dict[str, Any]) -> str:
    """``name``, else the ``OIDC_CLAIM_FULL_NAME`` claims joined (ProConnect: given_name +
    usual_name)."""
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()[:255]
    parts = (claims.get(claim) for claim in settings.OIDC_CLAIM_FULL_NAME)
    return " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())[:255]


def language_from_claims(claims: dict[str, Any]) -> str | None:
    value = claims.get(settings.OIDC_CLAIM_LANGUAGE)
    if not isinstance(value, str):
        return None
    language = value.replace("_", "-").split("-")[0].strip().lower()
    return language if language in dict(settings.LANGUAGES) else None


def _organization_from_claims(claims: dict[str, Any], email: str, user: User | None) -> Any:
    registration_id = claims.get(settings.OIDC_CLAIM_ORGANIZATION)
    if registration_id:
        name = claims.get(settings.OIDC_CLAIM_ORGANIZATION_NAME)
        return organization_for(
            registration_id=str(registration_id)[:64], name=str(name)[:255] if name else None, email=email
        )
    if user is None or user.organization_id is None:
        return organization_for(email=email)
    return None


def _user_by_email(sub: str, email: str, claims: dict[str, Any]) -> User | None:
    """The existing account this new subject may claim by its email: one without a subject
    yet (pre-provisioned, local account), or any one with OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION."""
    existing = User.objects.select_for_update().filter(email__iexact=email).first() if email else None
    if existing is None:
        return None
    if existing.sub and not settings.OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION:
        raise LoginRefused("email_belongs_to_another_subject", sub=sub, email=email)
    if claims.get("email_verified") is False:
        # Claiming an account by email is only safe when the provider vouches for the email.
        raise LoginRefused("email_not_verified", sub=sub, email=email)
    return existing


def _create_user(sub: str, email: str, claims: dict[str, Any]) -> User:
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email,
                sub=sub,
                full_name=full_name_from_claims(claims),
                language=language_from_claims(claims),
                organization=_organization_from_claims(claims, email, None),
            )
    except IntegrityError:
        # A concurrent first login of the same person won the race.
        winner = User.objects.filter(sub=sub).first()
        if winner is None:
            raise LoginRefused("email_belongs_to_another_subject", sub=sub, email=email) from None
        return winner
    record_audit(AuditAction.USER_CREATED, target=user, method="oidc")
    return user


def _update_user(user: User, sub: str, email: str, claims: dict[str, Any]) -> None:
    changed: list[str] = []
    if user.sub != sub:
        user.sub = sub
        changed.append("sub")
    if email and email != user.email.lower():
        if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
            raise LoginRefused("email_belongs_to_another_subject", sub=sub, email=email)
        user.email = email
        changed.append("email")
    for name, value in (("full_name", full_name_from_claims(claims)), ("language", language_from_claims(claims))):
        if value and getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    organization = _organization_from_claims(claims, email or user.email, user)
    if organization is not None and organization.pk != user.organization_id:
        user.organization = organization
        changed.append("organization")
    if changed:
        user.save(update_fields=[*changed, "updated_at"])


def user_for_claims(claims: dict[str, Any], *, require_email: bool) -> User:
    """The user these verified claims designate, created on first sight (OIDC_CREATE_USER)
    and brought up to date (email, full name, language, organization). Identified by ``sub``;
    by email only as :func:`_user_by_email` allows. Raises :class:`LoginRefused`."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise LoginRefused("missing_sub")
    email = email_from_claims(claims)
    if require_email and not email:
        raise LoginRefused("missing_email", sub=sub)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(sub=sub).first() or _user_by_email(sub, email, claims)
        if user is None:
            if not email:
                raise LoginRefused("unknown_subject", sub=sub)
            if not settings.OIDC_CREATE_USER:
                raise LoginRefused("unknown_user", sub=sub, email=email)
            return _create_user(sub, email, claims)
        if not user.is_active or user.is_bot:
            raise LoginRefused("inactive_user", sub=sub, email=email)
        _update_user(user, sub, email, claims)
    return user
