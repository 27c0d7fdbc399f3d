"""Managing share links (SHARE on the item): create, list, update, revoke."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app.models import Item, ItemType, ShareLink
from drive_app.permissions import access_item
from drive_app.services.links.tokens import (
    LINK_ROLES,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    TOKEN_BYTES,
    TOKEN_PREFIX_LENGTH,
    CreatedLink,
    LinkErrorCode,
    LinkNotFound,
    hash_token,
)
from suite.access.resolve import parse_pk
from suite.access.roles import Perm, Role
from suite.errors import (
    Conflict,
    ValidationFailed,
)

_UNSET: Any = object()  # an argument not given (None is a value: no expiry, no limit)


# --- managing links (SHARE on the item) ------------------------------------------------------------------


def _parse_role(item: Item, role: Any) -> Role:
    parsed = LINK_ROLES.get(role) if isinstance(role, str) else None
    if parsed is None:
        raise ValidationFailed(
            _("A link's role is reader or editor."),
            code=LinkErrorCode.ROLE_INVALID,
            status=422,
            details={"field": "role"},
        )
    if parsed == Role.EDITOR and item.type != ItemType.FOLDER:
        raise ValidationFailed(
            _("Only a folder's link can let visitors upload (editor)."),
            code=LinkErrorCode.ROLE_INVALID,
            status=422,
            details={"field": "role"},
        )
    return parsed


def _password_hash(password: Any) -> str:
    """The hash to store for ``password`` (``None`` or ``""``: no password)."""
    if password is None or password == "":
        return ""
    if (
        not isinstance(password, str)
        or not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH
    ):
        raise ValidationFailed(
            _("A link password has %(min)s to %(max)s characters.")
            % {"min": PASSWORD_MIN_LENGTH, "max": PASSWORD_MAX_LENGTH},
            details={"field": "password"},
        )
    return make_password(password)


def _expiry(expires_at: Any) -> dt.datetime | None:
    if expires_at is None:
        return None
    if not isinstance(expires_at, dt.datetime) or timezone.is_naive(expires_at):
        raise ValidationFailed(
            _("expires_at must be a date and time with its time zone."),
            details={"field": "expires_at"},
        )
    if expires_at <= timezone.now():
        raise ValidationFailed(
            _("expires_at must be in the future."), details={"field": "expires_at"}
        )
    return expires_at


def _max_downloads(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise ValidationFailed(
            _("max_downloads must be a whole number of at least 1."),
            details={"field": "max_downloads"},
        )
    return value


def link_create(
    *,
    actor: Any,
    item_id: Any,
    role: Any = Role.READER.slug,
    password: Any = None,
    expires_at: Any = None,
    max_downloads: Any = None,
) -> CreatedLink:
    """A new link to the item (SHARE needed). The token is in the result only."""
    item = access_item(actor, item_id, need=Perm.SHARE)
    link = ShareLink(
        item=item,
        role=_parse_role(item, role),
        password_hash=_password_hash(password),
        expires_at=_expiry(expires_at),
        max_downloads=_max_downloads(max_downloads),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link.token_hash = hash_token(token)
    link.token_prefix = token[:TOKEN_PREFIX_LENGTH]
    link.save()
    return CreatedLink(link=link, token=token)


def links_of(*, actor: Any, item_id: Any) -> QuerySet[ShareLink]:
    """The item's links, newest first, revoked ones included (SHARE needed)."""
    item = access_item(actor, item_id, need=Perm.SHARE)
    return ShareLink.objects.filter(item=item).order_by("-created_at", "pk")


def _managed_link(actor: Any, item_id: Any, link_id: Any, *, lock: bool = False) -> ShareLink:
    item = access_item(actor, item_id, need=Perm.SHARE)
    pk = parse_pk(ShareLink, link_id)
    queryset = ShareLink.objects.select_for_update() if lock else ShareLink.objects.all()
    link = queryset.filter(item=item, pk=pk).first() if pk is not None else None
    if link is None:
        raise LinkNotFound(_("No such link on this item."))
    link.item = item
    return link


def link_update(
    *,
    actor: Any,
    item_id: Any,
    link_id: Any,
    role: Any = _UNSET,
    password: Any = _UNSET,
    expires_at: Any = _UNSET,
    max_downloads: Any = _UNSET,
) -> ShareLink:
    """Change a link: each argument left out stays as it is; ``None`` clears the password,
    the expiry or the download limit. A new or cleared password ends the link's open
    sessions (their access tokens carry the old password's fingerprint)."""
    with transaction.atomic():
        link = _managed_link(actor, item_id, link_id, lock=True)
        if link.revoked_at is not None:
            raise Conflict(
                _("This link was revoked; create a new one."), code=LinkErrorCode.REVOKED
            )
        fields = []
        if role is not _UNSET:
            link.role = _parse_role(link.item, role)
            fields.append("role")
        if password is not _UNSET:
            link.password_hash = _password_hash(password)
            fields.append("password_hash")
        if expires_at is not _UNSET:
            link.expires_at = _expiry(expires_at)
            fields.append("expires_at")
        if max_downloads is not _UNSET:
            link.max_downloads = _max_downloads(max_downloads)
            fields.append("max_downloads")
        if fields:
            link.save(update_fields=fields)
    return link


def link_revoke(*, actor: Any, item_id: Any, link_id: Any) -> None:
    """Stop a link at once (kept, marked revoked, for the record). Idempotent."""
    link = _managed_link(actor, item_id, link_id)
    ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
