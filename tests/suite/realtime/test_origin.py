"""Which ``Origin`` may use the session cookie on a websocket (cross-site websocket
hijacking). End-to-end refusals are in test_websocket_auth.py; these cover the cases."""

from __future__ import annotations

import pytest

from suite.realtime.auth import origin_allowed


def _scope(origin: str | None, host: str | None = "127.0.0.1:8000") -> dict:
    headers = []
    if host is not None:
        headers.append((b"host", host.encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "headers": headers}


@pytest.fixture(autouse=True)
def _hosts(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "suite.communs.example"]
    settings.SUITE_PUBLIC_URL = "https://suite.communs.example"
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.apps.communs.example", "https://editor.partner.example"]


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (None, "127.0.0.1:8000"),  # not a browser
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),  # same origin
        ("HTTP://LOCALHOST:8000", "localhost:8000"),  # case does not matter
        ("https://suite.communs.example", "10.0.0.7:8000"),  # public URL, behind a proxy
        ("https://docs.apps.communs.example", "10.0.0.7:8000"),  # trusted subdomain
        ("https://editor.partner.example", "10.0.0.7:8000"),  # trusted origin
    ],
)
def test_origin_allowed(origin, host):
    assert origin_allowed(_scope(origin, host)) is True


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("https://evil.example", "127.0.0.1:8000"),
        ("null", "127.0.0.1:8000"),  # sandboxed frame, file: page
        ("http://127.0.0.1:9999", "127.0.0.1:8000"),  # another port is another origin
        ("http://suite.communs.example", "10.0.0.7:8000"),  # public URL over the wrong scheme
        ("https://evil.example", "evil.example"),  # DNS rebinding: Host not ours
        ("http://apps.communs.example", "10.0.0.7:8000"),  # wildcard needs https and a subdomain
        ("https://editor.partner.example.evil.example", "10.0.0.7:8000"),
        ("chrome-extension://abcdef", "127.0.0.1:8000"),
        ("http://[::1", "127.0.0.1:8000"),  # unparsable
        ("https://evil.example", None),
    ],
)
def test_origin_refused(origin, host):
    assert origin_allowed(_scope(origin, host)) is False


def test_wildcard_allowed_hosts_does_not_trust_every_origin(settings):
    """``ALLOWED_HOSTS = ["*"]`` (common behind a proxy) must not open the door: the Origin
    has to be the host the browser connected to."""
    settings.ALLOWED_HOSTS = ["*"]
    assert origin_allowed(_scope("https://evil.example", "suite.communs.example")) is False
    assert origin_allowed(_scope("https://suite.communs.example", "suite.communs.example")) is True
