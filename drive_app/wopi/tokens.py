"""WOPI access tokens: signed, not stored.

A token is ``django.core.signing`` (HMAC-SHA256 with ``SECRET_KEY``, its own salt, so a
token from another part of the suite never verifies here) over the user id, the file id,
the mode granted (``view`` or ``edit``) and the expiry in milliseconds since the epoch, the
unit of WOPI's ``access_token_ttl``. Nothing needs revoking: the expiry bounds a leaked
token, and :func:`drive_app.wopi.operations.open_session` re-checks on every call that the
user is active and still has the role the operation needs, so the token is a ceiling, never
a grant of its own. Rotating ``SECRET_KEY`` (with ``SECRET_KEY_FALLBACKS``) rotates them.
"""

from __future__ import annotations

import datetime as dt
import enum
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

from drive_app.wopi.errors import InvalidToken

SALT = "drive_app.wopi.access_token"


class Mode(enum.StrEnum):
    VIEW = "view"
    EDIT = "edit"


@dataclass(frozen=True)
class TokenGrant:
    """What a verified token says: who, which file, at most which mode, until when."""

    user_id: uuid.UUID
    item_id: uuid.UUID
    mode: Mode
    expires_at_ms: int


def now_ms() -> int:
    return int(time.time() * 1000)


def issue(*, user: Any, item_id: Any, mode: Mode, expires_at: dt.datetime | None = None) -> tuple[str, int]:
    """A token for ``user`` on file ``item_id`` in ``mode`` and its expiry (ms since the
    epoch), ``WOPI_TOKEN_TTL_SECONDS`` from now unless ``expires_at`` is given. The caller
    has checked that the user's role allows ``mode``."""
    if expires_at is None:
        expires_ms = now_ms() + settings.WOPI_TOKEN_TTL_SECONDS * 1000
    else:
        expires_ms = int(expires_at.timestamp() * 1000)
    payload = {"u": str(user.pk), "i": str(item_id), "m": str(Mode(mode)), "x": expires_ms}
    return signing.dumps(payload, salt=SALT, compress=False), expires_ms


def verify(token: str | None, item_id: Any) -> TokenGrant:
    """The grant of ``token`` for file ``item_id``, or :class:`InvalidToken` when the token is
    missing, tampered with, expired, or issued for another file."""
    if not token or len(token) > 2048:
        raise InvalidToken()
    try:
        payload = signing.loads(token, salt=SALT)
        grant = TokenGrant(
            user_id=uuid.UUID(payload["u"]), item_id=uuid.UUID(payload["i"]),
            mode=Mode(payload["m"]), expires_at_ms=int(payload["x"]),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidToken() from None
    if grant.expires_at_ms <= now_ms():
        raise InvalidToken()
    try:
        wanted = uuid.UUID(str(item_id))
    except ValueError:
        raise InvalidToken() from None
    if grant.item_id != wanted:
        raise InvalidToken()
    return grant


__all__ = ["SALT", "Mode", "TokenGrant", "issue", "now_ms", "verify"]
