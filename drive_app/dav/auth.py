"""HTTP Basic authentication of DAV clients with app passwords, rate-limited.

Desktop clients (Finder, Explorer, davfs2, rclone, Cyberduck...) cannot do OIDC: they send
``Authorization: Basic <email>:<app password>``. The app password is one of the user's API
tokens (created in the API or with ``suite token create``) that is unscoped, or scoped
``dav`` (full access) or ``dav:read`` (GET, HEAD, OPTIONS, PROPFIND only). The email must be
the token owner's. Tokens carry 256 random bits and are stored hashed (``suite.identity``).

Failed attempts are counted in the cache per email and client address, and per address:
past the limits, requests are answered 429 without checking anything until the window
ends (a guessing attacker learns nothing, a legitimate client backs off).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Iterator
from typing import Any

from django.core.cache import caches
from django.utils import translation
from django.utils.translation import gettext as _
from wsgidav.mw.base_mw import BaseMiddleware

from drive_app.dav.errors import DavProblem
from drive_app.dav.session import CURRENT, ENVIRON_KEY, DavSession
from suite.identity.middleware import activate_user_language
from suite.identity.tokens import authenticate_api_token

logger = logging.getLogger(__name__)

REALM = "Communs"
CHALLENGE = ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
#: Failed attempts allowed per (email, address) and per address within the window.
MAX_FAILURES_PER_ACCOUNT = 10
MAX_FAILURES_PER_ADDRESS = 50
FAILURE_WINDOW_SECONDS = 300
#: How long an email that signed in from an address stays exempt from that address's limit.
KNOWN_SECONDS = 30 * 24 * 3600
DAV_SCOPE = "dav"
DAV_READ_SCOPE = "dav:read"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND"})


class _AuditRequest:
    """What ``authenticate_api_token`` reads of a request: the client address."""

    def __init__(self, address: str | None):
        self.META = {"REMOTE_ADDR": address} if address else {}


def qualifies(scopes: list[str] | None) -> bool:
    """Whether a token with ``scopes`` is an app password (unscoped, or scoped for DAV)."""
    return not scopes or DAV_SCOPE in scopes or DAV_READ_SCOPE in scopes


def method_allowed(scopes: list[str] | None, method: str) -> bool:
    if not scopes or DAV_SCOPE in scopes:
        return True
    return DAV_READ_SCOPE in scopes and method.upper() in READ_METHODS


def parse_basic(header: str) -> tuple[str, str] | None:
    """(email, password) from an ``Authorization: Basic`` header, or None."""
    scheme, _sep, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        decoded = raw.decode("latin-1")
    email, colon, password = decoded.partition(":")
    if not colon or not email.strip() or not password:
        return None
    return email.strip().lower(), password


_SHARED_CACHE: Any = None


def _cache() -> Any:
    """One cache client for every DAV request. ``django.core.cache.cache`` is local to the
    request's context, and each DAV request runs in a fresh one (a2wsgi's thread pool): it
    would open a new Redis connection per request."""
    global _SHARED_CACHE  # noqa: PLW0603 -- created once, shared by the worker threads
    if _SHARED_CACHE is None:
        _SHARED_CACHE = caches.create_connection("default")
    return _SHARED_CACHE


class FailureLimiter:
    """Counts failed logins of one email from one address (and of the address alone).

    The address-wide limit stops someone trying many accounts from one address; it does not
    lock out the people who already signed in from there (an office behind one NAT address):
    an email that succeeded from an address is remembered for it (``KNOWN_SECONDS``) and is
    then held to its own per-account limit only."""

    def __init__(self, email: str, address: str):
        digest = hashlib.sha256(f"{email}\n{address}".encode()).hexdigest()[:32]
        self.account_key = f"dav-auth-fail:{digest}"
        self.address_key = f"dav-auth-fail-ip:{hashlib.sha256(address.encode()).hexdigest()[:32]}"
        self.known_key = f"dav-auth-known:{digest}"

    def counts(self) -> dict[str, int]:
        """The failure counts and whether this email is known here, in one cache request."""
        return _cache().get_many([self.account_key, self.address_key, self.known_key])

    def blocked(self, counts: dict[str, int]) -> bool:
        """Refused without checking the password."""
        return counts.get(self.account_key, 0) >= MAX_FAILURES_PER_ACCOUNT or (
            self.address_limited(counts) and not counts.get(self.known_key)
        )

    def address_limited(self, counts: dict[str, int]) -> bool:
        """The address is past its limit: a known email's right password still gets in, but a
        wrong one is answered as for any other email (429), so that the answers do not tell
        which emails sign in from here."""
        return counts.get(self.address_key, 0) >= MAX_FAILURES_PER_ADDRESS

    def record_failure(self) -> None:
        for key in (self.account_key, self.address_key):
            cache = _cache()
            cache.add(key, 0, FAILURE_WINDOW_SECONDS)
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.set(key, 1, FAILURE_WINDOW_SECONDS)

    def succeeded(self, counts: dict[str, int]) -> None:
        """After a success: forget the account's failures, remember the email for this address
        (no cache request when both are already so, as for every request of a running client)."""
        if counts.get(self.account_key):
            _cache().delete(self.account_key)
        if not counts.get(self.known_key):
            _cache().set(self.known_key, 1, KNOWN_SECONDS)


def authenticate(email: str, password: str, address: str | None) -> tuple[Any, list[str]] | None:
    """(user, token scopes) when ``password`` is an app password of the user ``email``."""
    token = authenticate_api_token(password, _AuditRequest(address))
    if token is None or token.user.email.strip().lower() != email or not qualifies(token.scopes):
        return None
    return token.user, list(token.scopes or [])


def _rate_limited() -> DavProblem:
    return DavProblem(
        429, _("Too many failed sign-ins; try again later."), code="rate_limited",
        headers=[("Retry-After", str(FAILURE_WINDOW_SECONDS))],
    )


def _unauthorized(message: str) -> DavProblem:
    return DavProblem(401, message, code="not_authenticated", headers=[CHALLENGE])


class DavBasicAuth(BaseMiddleware):
    """Deny by default: every DAV request (OPTIONS included) needs valid credentials."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        credentials = parse_basic(environ.get("HTTP_AUTHORIZATION", ""))
        if credentials is None:
            raise _unauthorized(_("Sign in with your email and an app password."))
        email, password = credentials
        address = environ.get("REMOTE_ADDR") or "unknown"
        limiter = FailureLimiter(email, address)
        counts = limiter.counts()
        if limiter.blocked(counts):
            raise _rate_limited()
        found = authenticate(email, password, address)
        if found is None:
            limiter.record_failure()
            logger.warning("DAV sign-in failed", extra={"remote_addr": address})
            if limiter.address_limited(counts):
                raise _rate_limited()
            raise _unauthorized(_("Wrong email or app password."))
        limiter.succeeded(counts)
        user, scopes = found
        if not method_allowed(scopes, environ.get("REQUEST_METHOD", "")):
            raise DavProblem(403, _("This app password is read-only."), code="insufficient_scope")
        session = DavSession(user=user, scopes=scopes)
        environ[ENVIRON_KEY] = session
        environ["wsgidav.auth.user_name"] = session.principal
        environ["wsgidav.auth.realm"] = REALM
        environ["wsgidav.auth.roles"] = []
        context = CURRENT.set(session)
        activate_user_language(user)
        try:
            yield from self.next_app(environ, start_response)
        finally:
            translation.deactivate()
            CURRENT.reset(context)
