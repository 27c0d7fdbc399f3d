"""Share links: tokens, errors, and the access token a visitor carries (see the package
docstring)."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from drive_app.models import ShareLink
from suite.access.roles import Role
from suite.errors import (
    SuiteError,
)

TOKEN_BYTES = 32  # 256 bits of randomness: 43 URL-safe characters
TOKEN_PREFIX_LENGTH = 8
TOKEN_MAX_LENGTH = 128  # anything longer is not one of ours: no hashing, no query
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128  # hashing is deliberately slow: do not hash megabytes
#: Lifetime of an access token (seconds).
ACCESS_TTL = 3600
ACCESS_SALT = "drive.share-link.access"
#: Wrong passwords allowed per link and IP address in a window, then 429 until it ends.
PASSWORD_ATTEMPTS = 10
PASSWORD_WINDOW = 60  # seconds
LINK_ROLES = {Role.READER.slug: Role.READER, Role.EDITOR.slug: Role.EDITOR}
UPLOAD_POLICIES = ("error", "rename")  # never "version": a link visitor does not replace files


class LinkErrorCode(enum.StrEnum):
    NOT_FOUND = "link_not_found"
    EXPIRED = "link_expired"
    PASSWORD_REQUIRED = "link_password_required"  # noqa: S105 -- an error code
    PASSWORD_INVALID = "link_password_invalid"  # noqa: S105 -- an error code
    DOWNLOAD_LIMIT = "link_download_limit"
    ACCESS_REQUIRED = "link_access_required"
    ACCESS_INVALID = "link_access_invalid"
    ROLE_INVALID = "link_role_invalid"
    REVOKED = "link_revoked"


class LinkNotFound(SuiteError):
    """Unknown token, revoked link, or its item in the trash: all look the same."""

    code = LinkErrorCode.NOT_FOUND
    status = 404

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message or _("This link does not exist or was revoked."), **kwargs)


class LinkGone(SuiteError):
    """The link existed but can no longer be used (expired, download limit reached)."""

    status = 410


class LinkAccessDenied(SuiteError):
    status = 401


@dataclass(frozen=True)
class LinkAccess:
    """What opening a link gives: the link (its item loaded) and the access token to send
    as ``X-Link-Access``, valid until ``expires_at``."""

    link: ShareLink
    token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class CreatedLink:
    """A new link and its secret token (returned once, never stored)."""

    link: ShareLink
    token: str


# --- tokens -------------------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str) -> str:
    """The page a visitor opens (the web client's route for share links)."""
    return f"{settings.SUITE_PUBLIC_URL}/s/{token}"


def link_expired(link: ShareLink, *, now: dt.datetime | None = None) -> bool:
    return link.expires_at is not None and link.expires_at <= (now or timezone.now())


def downloads_exhausted(link: ShareLink) -> bool:
    return link.max_downloads is not None and link.download_count >= link.max_downloads


def _password_fingerprint(link: ShareLink) -> str:
    """Changes whenever the password is set, changed or cleared; reveals nothing of the hash
    (access tokens are signed, not encrypted)."""
    if not link.password_hash:
        return ""
    return salted_hmac("drive.share-link.password", link.password_hash).hexdigest()[:16]


def issue_access(link: ShareLink, *, ttl: int = ACCESS_TTL) -> tuple[str, dt.datetime]:
    """Sign an access token for ``link`` valid ``ttl`` seconds."""
    expires = int(time.time()) + ttl
    payload = {"l": str(link.pk), "p": _password_fingerprint(link), "x": expires}
    return signing.dumps(payload, salt=ACCESS_SALT, compress=False), dt.datetime.fromtimestamp(
        expires, tz=dt.UTC
    )


def _check_access(link: ShareLink, access: str | None) -> None:
    if not access:
        raise LinkAccessDenied(
            _("Open the link first and send its access token."), code=LinkErrorCode.ACCESS_REQUIRED
        )
    invalid = LinkAccessDenied(
        _("This link access is invalid or has expired: open the link again."),
        code=LinkErrorCode.ACCESS_INVALID,
    )
    try:
        payload = signing.loads(access, salt=ACCESS_SALT)
    except (signing.BadSignature, ValueError):
        raise invalid from None
    if (
        not isinstance(payload, dict)
        or payload.get("l") != str(link.pk)
        or payload.get("p") != _password_fingerprint(link)
        or not isinstance(payload.get("x"), int)
        or time.time() >= payload["x"]
    ):
        raise invalid
