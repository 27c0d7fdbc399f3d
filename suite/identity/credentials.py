"""What authenticated a websocket, and whether it still holds.

A socket lives no longer than the credential it was opened with (decision 0006):

- ``token``: an API token (directly, or through a ticket minted with it): ends when the
  token is revoked or expires;
- ``session``: a browser session (the cookie, or a ticket minted with it): ends at logout,
  back-channel logout, a password change (Django's session hash no longer matches) or the
  session's expiry;
- ``oidc``: an OIDC access token presented as bearer when the ticket was minted: ends at
  the token's ``exp``, or when the provider logs its session (``sid``) or its user out.

Every kind ends with the user's deactivation. A ticket names its credential (never a secret:
a session appears as a keyed hash of its key), and the credential is checked again when the
ticket is used, so revoking a token also invalidates the tickets minted with it.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Iterable
from typing import Any

from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

_SESSION_SALT = "communs.realtime.session-ref"
#: How long a back-channel logout is remembered for the OIDC-bearer sockets it ends (access
#: tokens live minutes; a day is ample).
OIDC_LOGOUT_MEMORY_SECONDS = 24 * 3600
#: Sockets opened through an OIDC access token that states no expiry end after this.
OIDC_TOKEN_WITHOUT_EXPIRY_SECONDS = 3600


class CredentialKind(enum.StrEnum):
    TOKEN = "t"  # noqa: S105 -- a kind marker, not a secret
    SESSION = "s"
    OIDC = "o"


class Ended(enum.StrEnum):
    """Why a credential no longer holds: the 4401 close reason of its sockets."""

    TOKEN_REVOKED = "token_revoked"  # noqa: S105
    TOKEN_EXPIRED = "token_expired"  # noqa: S105
    SESSION_ENDED = "session_ended"
    OIDC_LOGOUT = "oidc_logout"
    CREDENTIAL_EXPIRED = "credential_expired"
    USER_INACTIVE = "user_inactive"


@dataclasses.dataclass(frozen=True)
class Credential:
    """``key``: the token's id, the session's key (server side only) or the OIDC ``sid``
    (may be empty); ``issued_at``/``expires_at`` in seconds since the epoch, when known."""

    kind: CredentialKind
    key: str
    user_id: str
    issued_at: float | None = None
    expires_at: float | None = None

    def ticket_ref(self) -> str:
        """How a ticket names this credential (a session by a keyed hash of its key)."""
        if self.kind == CredentialKind.SESSION:
            return f"s:{session_ref(self.key)}"
        if self.kind == CredentialKind.OIDC:
            return f"o:{self.key}:{int(self.issued_at or 0)}:{int(self.expires_at or 0)}"
        return f"{self.kind}:{self.key}"


def session_ref(session_key: str) -> str:
    return salted_hmac(_SESSION_SALT, session_key, algorithm="sha256").hexdigest()[:32]


# --- building ---------------------------------------------------------------------------


def token_credential(token: Any) -> Credential:
    return Credential(
        CredentialKind.TOKEN, str(token.pk), str(token.user_id),
        expires_at=token.expires_at.timestamp() if token.expires_at else None,
    )


def session_credential(session_key: str, user: Any) -> Credential:
    return Credential(CredentialKind.SESSION, session_key, str(user.pk))


def oidc_credential(claims: dict[str, Any], user: Any) -> Credential:
    def number(name: str) -> float | None:
        value = claims.get(name)
        return float(value) if isinstance(value, (int, float)) else None

    sid = claims.get("sid")
    expires = number("exp")
    if expires is None:  # possible with introspection: bound it all the same
        expires = time.time() + OIDC_TOKEN_WITHOUT_EXPIRY_SECONDS
    return Credential(
        CredentialKind.OIDC, sid if isinstance(sid, str) else "", str(user.pk),
        issued_at=number("iat"), expires_at=expires,
    )


def credential_of_request(request: Any) -> Credential | None:
    """The credential an authenticated API request was made with (see suite.identity.auth)."""
    credential = getattr(request, "auth_credential", None)
    return credential if isinstance(credential, Credential) else None


def from_ticket_ref(ref: object, user: Any) -> Credential | None:
    """The credential a ticket names, or ``None`` when it names nothing that exists (a
    session must still be one of the user's)."""
    if not isinstance(ref, str) or ":" not in ref:
        return None
    kind, _, rest = ref.partition(":")
    if kind == CredentialKind.TOKEN and rest:
        from suite.identity.models import ApiToken

        token_id = _uuid_or_none(rest)
        token = ApiToken.objects.filter(pk=token_id, user=user).first() if token_id else None
        return None if token is None else token_credential(token)
    if kind == CredentialKind.SESSION and rest:
        from suite.identity.models import UserSession

        for session_key in UserSession.objects.filter(user=user).values_list("session_key", flat=True):
            if constant_time_compare(session_ref(session_key), rest):
                return session_credential(session_key, user)
        # Not one of the user's sessions any more (logged out): a session that has ended.
        return session_credential("", user)
    if kind == CredentialKind.OIDC:
        sid, _, times = rest.partition(":")
        issued, _, expires = times.partition(":")
        try:
            return Credential(
                CredentialKind.OIDC, sid, str(user.pk),
                issued_at=float(issued) or None, expires_at=float(expires) or None,
            )
        except ValueError:
            return None
    return None


# --- checking ---------------------------------------------------------------------------


def ended_credentials(credentials: Iterable[Credential]) -> dict[Credential, Ended]:
    """The credentials among ``credentials`` that no longer hold, with why. A few queries
    whatever their number (one per kind present, one for the users)."""
    from django.contrib.auth import get_user_model

    from suite.identity.models import ApiToken

    credentials = set(credentials)
    if not credentials:
        return {}
    ended: dict[Credential, Ended] = {}
    users = {
        str(pk): user
        for pk, user in get_user_model().objects.in_bulk({c.user_id for c in credentials}).items()
    }
    now = time.time()
    live = []
    for credential in credentials:
        user = users.get(credential.user_id)
        if user is None or not user.is_active:
            ended[credential] = Ended.USER_INACTIVE
        elif credential.expires_at is not None and credential.expires_at <= now:
            ended[credential] = (
                Ended.TOKEN_EXPIRED if credential.kind == CredentialKind.TOKEN else Ended.CREDENTIAL_EXPIRED
            )
        else:
            live.append(credential)
    tokens = [c for c in live if c.kind == CredentialKind.TOKEN]
    if tokens:
        rows = {
            str(pk): (revoked, expires, str(user_id))
            for pk, revoked, expires, user_id in ApiToken.objects.filter(
                pk__in=[_uuid_or_none(c.key) for c in tokens if _uuid_or_none(c.key)]
            ).values_list("pk", "revoked_at", "expires_at", "user_id")
        }
        moment = timezone.now()
        for credential in tokens:
            row = rows.get(credential.key)
            if row is None or row[0] is not None or row[2] != credential.user_id:
                ended[credential] = Ended.TOKEN_REVOKED
            elif row[1] <= moment:
                ended[credential] = Ended.TOKEN_EXPIRED
    sessions = [c for c in live if c.kind == CredentialKind.SESSION]
    if sessions:
        found = {
            session.session_key: session
            for session in Session.objects.filter(
                session_key__in=[c.key for c in sessions], expire_date__gt=timezone.now()
            )
        }
        for credential in sessions:
            session = found.get(credential.key)
            if session is None or not _session_belongs(session, users[credential.user_id]):
                ended[credential] = Ended.SESSION_ENDED
    for credential in (c for c in live if c.kind == CredentialKind.OIDC):
        if _oidc_logged_out(credential):
            ended[credential] = Ended.OIDC_LOGOUT
    return ended


def _uuid_or_none(value: str) -> str | None:
    import uuid

    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _session_belongs(session: Session, user: Any) -> bool:
    """Django's own test (``django.contrib.auth.get_user``): the session names the user and
    carries the hash of their current password (a password change ends other sessions)."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY

    data = session.get_decoded()
    if str(data.get(SESSION_KEY)) != str(user.pk):
        return False
    stored = data.get(HASH_SESSION_KEY)
    return isinstance(stored, str) and constant_time_compare(stored, user.get_session_auth_hash())


# --- OIDC back-channel logout -------------------------------------------------------------


def _sid_key(sid: str) -> str:
    return f"realtime:oidc-ended-sid:{salted_hmac(_SESSION_SALT, sid).hexdigest()}"


def _user_key(user_id: str) -> str:
    return f"realtime:oidc-ended-user:{user_id}"


def _any_key(user_id: str) -> str:
    return f"realtime:oidc-any-logout:{user_id}"


def remember_oidc_logout(*, sid: str | None, user_ids: Iterable[Any]) -> None:
    """Called by back-channel logout: the provider ended session ``sid`` (or, without one,
    every session of these users). Sockets opened with OIDC bearer tokens of it end too;
    so do those whose token named no session (they cannot be told apart), when issued
    before the logout."""
    now = time.time()
    keys = {_any_key(str(u)): now for u in user_ids}
    if sid:
        keys[_sid_key(sid)] = now
    else:
        keys.update({_user_key(str(u)): now for u in user_ids})
    cache.set_many(keys, OIDC_LOGOUT_MEMORY_SECONDS)


def _oidc_logged_out(credential: Credential) -> bool:
    issued = credential.issued_at or 0  # no iat: as old as can be
    if credential.key:
        ended_at = cache.get(_sid_key(credential.key)) or cache.get(_user_key(credential.user_id))
    else:
        ended_at = cache.get(_any_key(credential.user_id))
    return ended_at is not None and issued <= ended_at
