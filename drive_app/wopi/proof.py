"""WOPI proof keys: checking that a request to ``/wopi/`` was signed by the office server.

MS-WOPI, "Verifying that requests originate from Office for the web by using proof keys"
(Collabora Online and OnlyOffice sign the same way): the office server signs every WOPI
request with a private key whose public half its discovery publishes (``<proof-key
modulus= exponent= oldmodulus= oldexponent=>``, the base64 big-endian RSA integers). The
signed bytes are, each length a 4-byte big-endian integer:

- the length of the access token, then the token (UTF-8);
- the length of the request's full URL, then that URL upper-cased (scheme, host, path and
  query string, as the office server requested it);
- 8, then ``X-WOPI-TimeStamp`` (.NET ticks: 100 ns since 0001-01-01 UTC) as a 64-bit
  big-endian integer;

signed with RSA PKCS#1 v1.5 over SHA-256, sent base64 in ``X-WOPI-Proof`` (current key) and
``X-WOPI-ProofOld`` (the key before it). A request is genuine when ``X-WOPI-Proof`` verifies
with the current key, or ``X-WOPI-ProofOld`` with the current key (the office server rotated
its keys and this host has not seen it yet), or ``X-WOPI-Proof`` with the old key (this host
has seen the rotation, the office server's machine not yet); and its timestamp is at most 20
minutes old. ``X-WOPI-ProofOld`` with the old key proves nothing (the specification's
validator refuses it).

A key ties the access tokens to the office server: a token that leaks (a log, a proxy, a
browser extension) cannot be used by anyone else to read or overwrite the file, and a
captured request cannot be replayed after 20 minutes. ``WOPI_PROOF_KEYS`` says when to check:
``verify-when-offered`` (default: whenever the discovery publishes a key), ``required`` (a
discovery without a key refuses every request: a misconfiguration must not silently disable
the check) or ``off``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import re
import struct
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.http import HttpRequest
from django.utils.encoding import escape_uri_path
from django.utils.translation import gettext as _

from drive_app.wopi import discovery
from drive_app.wopi.discovery import ProofKey
from drive_app.wopi.errors import InvalidProof

#: The specification's window: a timestamp more than 20 minutes old is refused.
MAX_AGE_SECONDS = 20 * 60
#: How far ahead of this server's clock the office server's may be (a timestamp from the
#: future would stretch the window in which a captured request can be replayed).
MAX_AHEAD_SECONDS = 5 * 60
#: 0001-01-01 to 1970-01-01 in .NET ticks (100 ns), the origin of ``X-WOPI-TimeStamp``.
UNIX_EPOCH_TICKS = 621_355_968_000_000_000
TICKS_PER_SECOND = 10_000_000
#: Weaker keys verify nothing: a signature by a key this short can be forged.
MIN_KEY_BITS = 2048
TIMESTAMP = re.compile(r"[0-9]{1,19}")
DEFAULT_PORTS = {"http": 80, "https": 443}


class Mode(enum.StrEnum):
    VERIFY_WHEN_OFFERED = "verify-when-offered"
    REQUIRED = "required"
    OFF = "off"


@dataclass(frozen=True)
class SignedRequest:
    """What the office server signed (``access_token``, ``url``, ``timestamp`` in ticks) and
    its signatures as received (base64; "" when absent)."""

    access_token: str
    url: str
    timestamp: int
    proof: str
    proof_old: str


def expected_proof(*, access_token: str, url: str, timestamp: int) -> bytes:
    """The bytes the office server signs for a request (see the module's docstring). Only
    ASCII letters are upper-cased, as the office servers do (a URL on the wire is ASCII)."""
    token, upper_url = access_token.encode(), url.encode().upper()
    return b"".join(
        (
            struct.pack(">I", len(token)),
            token,
            struct.pack(">I", len(upper_url)),
            upper_url,
            struct.pack(">I", 8),
            struct.pack(">q", timestamp),
        )
    )


def signed_url(request: HttpRequest) -> str:
    """The URL the office server requested, as it signed it: ``WOPI_HOST_URL``, the base
    every ``WOPISrc`` is built from (the office server was never given another, and behind a
    TLS-terminating proxy the request's own scheme and ``Host`` are not what it called),
    without the scheme's default port (URL libraries, the office servers' included, leave it
    out), then the request's path below the application (``path_info``: a prefix the proxy
    strips is in ``WOPI_HOST_URL``) and its query string as received (``access_token`` and
    whatever else the office server sent)."""
    base = urlsplit(settings.WOPI_HOST_URL)
    netloc = base.netloc
    try:
        port = base.port
    except ValueError:
        port = None
    if port is not None and port == DEFAULT_PORTS.get(base.scheme.lower()):
        netloc = netloc.rsplit(":", 1)[0]
    url = urlunsplit(
        (base.scheme, netloc, base.path.rstrip("/") + escape_uri_path(request.path_info), "", "")
    )
    query = request.META.get("QUERY_STRING", "")
    return f"{url}?{query}" if query else url


@functools.lru_cache(maxsize=16)
def public_key(modulus: str, exponent: str) -> rsa.RSAPublicKey | None:
    """The RSA public key of a discovery's base64 ``modulus`` and ``exponent``; ``None``
    when they do not make one of at least :data:`MIN_KEY_BITS` bits."""
    try:
        n = int.from_bytes(_b64decode(modulus), "big")
        e = int.from_bytes(_b64decode(exponent), "big")
        key = rsa.RSAPublicNumbers(e, n).public_key()
    except (binascii.Error, ValueError):
        return None
    return key if key.key_size >= MIN_KEY_BITS else None


def _b64decode(value: str) -> bytes:
    return base64.b64decode("".join(value.split()), validate=True)


def _signature_verifies(key: rsa.RSAPublicKey | None, signature: str, data: bytes) -> bool:
    if key is None or not signature:
        return False
    try:
        key.verify(_b64decode(signature), data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def usable(keys: ProofKey) -> bool:
    return (
        public_key(keys.modulus, keys.exponent) or public_key(keys.old_modulus, keys.old_exponent)
    ) is not None


def verifies(keys: ProofKey, signed: SignedRequest) -> bool:
    """Whether one of the three combinations the specification accepts verifies."""
    current = public_key(keys.modulus, keys.exponent)
    old = public_key(keys.old_modulus, keys.old_exponent)
    data = expected_proof(
        access_token=signed.access_token, url=signed.url, timestamp=signed.timestamp
    )
    return (
        _signature_verifies(current, signed.proof, data)
        or _signature_verifies(current, signed.proof_old, data)
        or _signature_verifies(old, signed.proof, data)
    )


def timestamp_of(request: HttpRequest, *, now: float | None = None) -> int:
    """``X-WOPI-TimeStamp`` in ticks; :class:`InvalidProof` when it is missing, not a
    decimal 64-bit integer, more than :data:`MAX_AGE_SECONDS` old or more than
    :data:`MAX_AHEAD_SECONDS` ahead."""
    raw = (request.headers.get("X-WOPI-TimeStamp") or "").strip()
    ticks = int(raw) if TIMESTAMP.fullmatch(raw) else -1
    age = (time.time() if now is None else now) - (ticks - UNIX_EPOCH_TICKS) / TICKS_PER_SECOND
    if not 0 <= ticks < 2**63 or not -MAX_AHEAD_SECONDS <= age <= MAX_AGE_SECONDS:
        raise InvalidProof(
            _("X-WOPI-TimeStamp is missing or malformed, or not a time of the last 20 minutes."),
            details={"reason": "timestamp"},
        )
    return ticks


def check(request: HttpRequest, access_token: str | None) -> None:
    """Refuse, with :class:`InvalidProof`, a request the office server did not sign, as
    ``WOPI_PROOF_KEYS`` says; ``access_token`` is the token that authorized the request (it
    is checked first, so that only holders of a valid token can make this host fetch the
    discovery again). Needs the discovery: its errors (office server unreachable) refuse the
    request too, since whether it must be signed cannot be known."""
    mode = Mode(settings.WOPI_PROOF_KEYS)
    if mode is Mode.OFF:
        return
    keys = discovery.load().proof_key
    if keys is None and (mode is Mode.REQUIRED or "X-WOPI-Proof" in request.headers):
        # The office server may have been given a key since its discovery was cached.
        keys = discovery.refresh().proof_key
    if keys is None:
        if mode is Mode.REQUIRED:
            raise _no_key()
        return
    signed = SignedRequest(
        access_token=access_token or "",
        url=signed_url(request),
        timestamp=timestamp_of(request),
        proof=request.headers.get("X-WOPI-Proof", ""),
        proof_old=request.headers.get("X-WOPI-ProofOld", ""),
    )
    if verifies(keys, signed):
        return
    # The office server may have rotated its keys since its discovery was cached: read it
    # again (at most once every REFRESH_SECONDS, whatever the number of failing requests).
    fresh = discovery.refresh().proof_key
    if fresh is None:
        if mode is Mode.REQUIRED:
            raise _no_key()
        return  # it no longer signs its requests: nothing to verify, as if never offered
    if fresh != keys and verifies(fresh, signed):
        return
    if not usable(fresh):
        raise InvalidProof(
            _(
                "The office server's proof key cannot be used (not an RSA key of at least 2048 bits)."
            ),
            details={"reason": "unusable_key"},
        )
    raise InvalidProof(
        _("The request is not signed by the office server (X-WOPI-Proof)."),
        details={"reason": "proof"},
    )


def _no_key() -> InvalidProof:
    return InvalidProof(
        _(
            "WOPI_PROOF_KEYS requires signed requests, but the office server's discovery offers "
            "no proof key."
        ),
        details={"reason": "no_key"},
    )


__all__ = [
    "Mode",
    "SignedRequest",
    "check",
    "expected_proof",
    "public_key",
    "signed_url",
    "timestamp_of",
    "verifies",
]
