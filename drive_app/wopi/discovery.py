"""The office server's WOPI discovery (``/hosting/discovery``): which actions (``edit``,
``view``...) it offers for which file extensions, at which URL (``urlsrc``).

Fetched with ``requests`` from ``WOPI_DISCOVERY_URL`` (size-capped, short timeouts), parsed
with defusedxml (the XML comes from another server: no entity expansion, no external
entities), and cached in the Django cache for an hour, so opening a file costs no request to
the office server. Apps listed by MIME type (Collabora lists some so) are used for files
without an extension. The ``proof-key`` element (the public keys the office server signs its
WOPI requests with, MS-WOPI 3.1.5.1.1.2.2.5) is kept as given, for :mod:`.proof`;
:func:`refresh` fetches the discovery again when a request's proof does not verify with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from suite.errors import NotFound, SuiteError

CACHE_SECONDS = 3600
#: At most one :func:`refresh` per office server in this many seconds, whatever the number of
#: requests whose proof fails: those cannot make this server flood the office server.
REFRESH_SECONDS = 30
MAX_BYTES = 5 * 1024 * 1024
TIMEOUT = (5, 15)  # connect, read (seconds)
#: Network zones by preference: the office server's address as browsers reach it.
ZONE_ORDER = ("external-https", "external-http", "internal-https", "internal-http")
#: ``<name=PLACEHOLDER&>`` sections of a ``urlsrc`` (MS-WOPI 3.1.5.1.1.2.3.1).
PLACEHOLDER = re.compile(r"<([^<>=]*)=([A-Za-z_]+)&?>")


class WopiDisabled(NotFound):
    def __init__(self) -> None:
        super().__init__(_("No office server is configured (WOPI_DISCOVERY_URL is not set)."),
                         code="wopi_disabled")


class OfficeUnavailable(SuiteError):
    """The office server could not be reached, or its discovery is not valid XML."""

    code = "office_unavailable"
    status = 503


@dataclass(frozen=True)
class ProofKey:
    """The ``proof-key`` element's RSA public keys, base64 as the discovery gives them: the
    current key (``modulus``, ``exponent``) and the one it replaced (``old_*``, "" when
    none). Whether they make a usable key is :mod:`.proof`'s business: a malformed key
    verifies nothing, so requests are refused rather than let through unchecked."""

    modulus: str
    exponent: str
    old_modulus: str = ""
    old_exponent: str = ""


@dataclass
class Discovery:
    """``by_extension["odt"]["edit"]`` is the ``urlsrc`` of that action; ``by_mimetype``
    likewise for apps named after a MIME type; ``proof_key`` is ``None`` when the office
    server does not sign its requests."""

    by_extension: dict[str, dict[str, str]] = field(default_factory=dict)
    by_mimetype: dict[str, dict[str, str]] = field(default_factory=dict)
    proof_key: ProofKey | None = None

    def find(self, *, extension: str, mimetype: str, actions: Sequence[str]) -> tuple[str, str] | None:
        """The first of ``actions`` offered for the file, as ``(action, urlsrc)``."""
        offered = self.by_extension.get(extension.lower()) if extension else None
        if not offered:
            offered = self.by_mimetype.get(mimetype.lower(), {})
        for action in actions:
            if action in offered:
                return action, offered[action]
        return None


def enabled() -> bool:
    return bool(settings.WOPI_DISCOVERY_URL)


def parse(xml: bytes) -> Discovery:
    """Parse a discovery document; :class:`OfficeUnavailable` when it is not one."""
    try:
        root = SafeElementTree.fromstring(xml)
    except (SafeElementTree.ParseError, DefusedXmlException, ValueError):
        raise OfficeUnavailable(_("The office server's discovery is not valid XML."),
                                code="office_discovery_invalid", status=502) from None
    if root.tag != "wopi-discovery":
        raise OfficeUnavailable(_("The office server's discovery is not valid XML."),
                                code="office_discovery_invalid", status=502)
    discovery = Discovery()
    zones = sorted(root.findall("net-zone"), key=lambda zone: _zone_rank(zone.get("name", "")))
    for zone in zones:
        for app in zone.findall("app"):
            app_name = (app.get("name") or "").lower()
            for action in app.findall("action"):
                name, urlsrc = (action.get("name") or "").strip(), (action.get("urlsrc") or "").strip()
                if not name or not urlsrc.startswith(("https://", "http://")):
                    continue
                extension = (action.get("ext") or "").strip().lower().lstrip(".")
                if extension:
                    discovery.by_extension.setdefault(extension, {}).setdefault(name, urlsrc)
                elif "/" in app_name:
                    discovery.by_mimetype.setdefault(app_name, {}).setdefault(name, urlsrc)
    discovery.proof_key = _proof_key(root.find("proof-key"))
    return discovery


def _proof_key(element: Any) -> ProofKey | None:
    """The keys of a ``proof-key`` element; ``None`` without one, or for an element with no
    key in it (no ``value`` nor ``modulus``). An element whose only key is the .NET blob
    (``value``) is kept as a key offered that cannot be used: requests are then refused, not
    accepted unverified."""
    if element is None:
        return None
    attribute = lambda name: (element.get(name) or "").strip()  # noqa: E731
    if not attribute("value") and not attribute("modulus"):
        return None
    return ProofKey(modulus=attribute("modulus"), exponent=attribute("exponent"),
                    old_modulus=attribute("oldmodulus"), old_exponent=attribute("oldexponent"))


def _zone_rank(name: str) -> int:
    return ZONE_ORDER.index(name) if name in ZONE_ORDER else len(ZONE_ORDER)


def _fetch(url: str) -> bytes:
    try:
        with requests.get(url, timeout=TIMEOUT, stream=True, headers={"Accept": "application/xml, text/xml"}) as response:
            response.raise_for_status()
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise OfficeUnavailable(_("The office server's discovery is too large."),
                                            code="office_discovery_invalid", status=502)
            return bytes(body)
    except requests.RequestException:
        raise OfficeUnavailable(_("The office server cannot be reached; try again later.")) from None


def _configured_url() -> str:
    url: str = settings.WOPI_DISCOVERY_URL
    if not url:
        raise WopiDisabled()
    return url


def _cache_key(url: str) -> str:
    return "drive:wopi:discovery:" + hashlib.sha256(url.encode()).hexdigest()[:32]


def _fetch_and_cache(url: str) -> Discovery:
    discovery = parse(_fetch(url))
    proof_key = discovery.proof_key
    cache.set(_cache_key(url), {
        "by_extension": discovery.by_extension,
        "by_mimetype": discovery.by_mimetype,
        "proof_key": None if proof_key is None else dataclasses.asdict(proof_key),
    }, CACHE_SECONDS)
    return discovery


def load() -> Discovery:
    """The configured office server's discovery (cached); :class:`WopiDisabled` when none is
    configured, :class:`OfficeUnavailable` when it cannot be read."""
    url = _configured_url()
    cached = cache.get(_cache_key(url))
    if cached is None:
        return _fetch_and_cache(url)
    keys = cached.get("proof_key")
    return Discovery(by_extension=cached["by_extension"], by_mimetype=cached["by_mimetype"],
                     proof_key=ProofKey(**keys) if keys else None)


def refresh() -> Discovery:
    """The discovery fetched again, past the cache: the office server may have rotated its
    proof keys since it was cached. When another refresh of this office server ran in the
    last :data:`REFRESH_SECONDS` (from any process), what that refresh cached instead."""
    url = _configured_url()
    if not cache.add(_cache_key(url) + ":refreshed", True, REFRESH_SECONDS):
        return load()
    return _fetch_and_cache(url)


def editor_url(urlsrc: str, *, wopi_src: str, language: str) -> str:
    """The editor URL for a file: ``urlsrc`` with its placeholders filled (the WOPI source
    and the language) or removed (every other one), and ``WOPISrc`` added when the
    ``urlsrc`` had no place for it. The access token is not in it: the host page POSTs it."""
    source = quote(wopi_src, safe="")
    placed = False

    def fill(match: re.Match[str]) -> str:
        nonlocal placed
        name, value = match.group(1), match.group(2).upper()
        if value == "WOPI_SOURCE":
            placed = True
            return f"{name}={source}&"
        if value in {"UI_LLCC", "DC_LLCC"}:
            return f"{name}={quote(language)}&"
        return ""

    url = PLACEHOLDER.sub(fill, urlsrc)
    url = re.sub(r"<[^<>]*>", "", url)  # anything left that looked like a placeholder
    url = re.sub(r"&{2,}", "&", url).replace("?&", "?")
    if not placed:
        url += ("" if url.endswith(("?", "&")) else "&" if "?" in url else "?") + f"WOPISrc={source}"
    return url.rstrip("&")


__all__ = [
    "Discovery", "OfficeUnavailable", "ProofKey", "WopiDisabled", "editor_url", "enabled", "load", "parse",
    "refresh",
]
