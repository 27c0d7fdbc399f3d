"""API token scopes.

A token without scopes acts with all of its user's rights. A scoped token may only call the
API areas it names; ``<area>:read`` restricts it to safe methods (GET, HEAD, OPTIONS). Areas
are fixed here (not registered by apps) so a token created while an app is disabled keeps its
meaning when the app is enabled.
"""

from __future__ import annotations

AREAS = ("account", "realtime", "docs", "drive", "chat", "mail", "dav")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

KNOWN_SCOPES = frozenset(AREAS) | frozenset(f"{area}:read" for area in AREAS)


def invalid_scopes(scopes: list[str]) -> list[str]:
    return [scope for scope in scopes if scope not in KNOWN_SCOPES]


def allows(scopes: list[str] | None, area: str, method: str) -> bool:
    """True when a token with ``scopes`` (``None``/empty = unscoped) may call ``area``."""
    if not scopes:
        return True
    if area in scopes:
        return True
    return method.upper() in SAFE_METHODS and f"{area}:read" in scopes


def is_subset(requested: list[str], held: list[str] | None) -> bool:
    """Whether a token holding ``held`` may mint a token with ``requested`` scopes."""
    if not held:
        return True
    if not requested:
        return False  # an unscoped token is wider than any scoped one
    return all(scope in held or scope.removesuffix(":read") in held for scope in requested)
