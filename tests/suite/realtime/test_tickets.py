"""Ticket signing and verification (no database: tickets are self-contained)."""

from __future__ import annotations

import base64
import json
import time
import types

import pytest
from django.core import signing

from suite.realtime import tickets
from suite.realtime.tickets import (
    Ticket,
    TicketError,
    issue_ticket,
    normalize_ticket_path,
    path_within,
    read_ticket,
)

USER_ID = "0b7ef5c8-5a34-4d55-a3a8-7e0cdbd0a0a1"
CREDENTIAL = "t:5d1c0f6e-8a43-4b3e-9d7a-2f0b6c1e9a10"


def _shift_clock(monkeypatch, seconds: float) -> None:
    """Make the ticket module see a clock ``seconds`` ahead (the ticket's expiry is
    compared with ``time.time()``), without sleeping."""
    real = time.time
    monkeypatch.setattr(tickets, "time", types.SimpleNamespace(time=lambda: real() + seconds))


def test_ticket_round_trip():
    raw, expires_at = issue_ticket(USER_ID, credential=CREDENTIAL, path="/ws/docs/1", scopes=["realtime"])
    ticket = read_ticket(raw, path="/ws/docs/1")
    assert ticket == Ticket(
        user_id=USER_ID, path="/ws/docs/1", scopes=["realtime"], expires_at=expires_at,
        credential=CREDENTIAL,
    )


def test_ticket_is_url_safe():
    raw, _ = issue_ticket(USER_ID, credential=CREDENTIAL, path="/ws/docs/1", scopes=["realtime", "docs:read"])
    assert set(raw) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:")


def test_ticket_valid_until_just_before_expiry(monkeypatch, settings):
    settings.REALTIME_TICKET_TTL = 60
    raw, expires_at = issue_ticket(USER_ID, credential=CREDENTIAL)
    _shift_clock(monkeypatch, expires_at.timestamp() - time.time() - 0.5)
    assert isinstance(read_ticket(raw, path="/ws/events/"), Ticket)


def test_ticket_expired(monkeypatch, settings):
    settings.REALTIME_TICKET_TTL = 60
    raw, expires_at = issue_ticket(USER_ID, credential=CREDENTIAL)
    _shift_clock(monkeypatch, expires_at.timestamp() - time.time())
    assert read_ticket(raw, path="/ws/events/") is TicketError.EXPIRED


def test_raising_the_ttl_does_not_stretch_issued_tickets(monkeypatch, settings):
    settings.REALTIME_TICKET_TTL = 60
    raw, _ = issue_ticket(USER_ID, credential=CREDENTIAL)
    settings.REALTIME_TICKET_TTL = 3600
    _shift_clock(monkeypatch, 61)
    assert read_ticket(raw, path="/ws/events/") is TicketError.EXPIRED


def test_ticket_with_forged_user_is_invalid():
    """Swapping the payload for another user's, keeping the signature, must not work."""
    raw, _ = issue_ticket(USER_ID, credential=CREDENTIAL)
    payload, timestamp, signature = raw.split(":")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["u"] = "9d1d3b8e-3a8a-4e36-9df5-4b3f4f1d2c11"
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
    assert read_ticket(f"{forged}:{timestamp}:{signature}", path="/ws/events/") is TicketError.INVALID


@pytest.mark.parametrize("raw", ["", "abc", "a:b:c", "::::", "\u00e9t\u00e9", "x" * 5000])
def test_garbage_ticket_is_invalid(raw):
    assert read_ticket(raw, path="/ws/events/") is TicketError.INVALID


def test_ticket_signed_for_another_purpose_is_invalid():
    """A value signed by another part of the app (other salt) is no ticket."""
    raw = signing.dumps({"u": USER_ID, "x": int(time.time()) + 60}, salt="communs.other")
    assert read_ticket(raw, path="/ws/events/") is TicketError.INVALID


def test_ticket_signed_with_another_key_is_invalid(settings):
    raw, _ = issue_ticket(USER_ID, credential=CREDENTIAL)
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert read_ticket(raw, path="/ws/events/") is TicketError.INVALID


@pytest.mark.parametrize(
    ("path", "scope", "inside"),
    [
        ("/ws/docs/1", "/ws/docs/1", True),
        ("/ws/docs/1/", "/ws/docs/1", True),
        ("/ws/docs/1/awareness", "/ws/docs/1", True),
        ("/ws/docs/12", "/ws/docs/1", False),
        ("/ws/docs", "/ws/docs/1", False),
        ("/ws/events/", "/ws/docs/1", False),
        ("/ws/chat/", "/ws", True),
    ],
)
def test_path_within_whole_segments(path, scope, inside):
    assert path_within(path, scope) is inside


def test_ticket_for_one_document_refused_on_another():
    raw, _ = issue_ticket(USER_ID, credential=CREDENTIAL, path="/ws/docs/1")
    assert read_ticket(raw, path="/ws/docs/12") is TicketError.WRONG_PATH
    assert isinstance(read_ticket(raw, path="/ws/docs/1"), Ticket)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("/ws/docs/1/", "/ws/docs/1"), ("/ws/docs/1", "/ws/docs/1"), ("/ws/", "/ws"), ("/ws/chat/", "/ws/chat")],
)
def test_normalize_ticket_path(given, canonical):
    assert normalize_ticket_path(given) == canonical


@pytest.mark.parametrize("path", ["/ws", "/wss/x", "/ws/./x", "/ws/a\\b", "/ws/a\nb", "/ws/a\x00"])
def test_normalize_ticket_path_refuses(path):
    with pytest.raises(ValueError):
        normalize_ticket_path(path)


def test_ticket_without_a_credential_is_invalid():
    """A ticket must name the token or session it was minted with (checked at use)."""
    raw = signing.dumps({"u": USER_ID, "x": int(time.time()) + 60}, salt=tickets.SALT, compress=False)
    assert read_ticket(raw, path="/ws/docs/1") == TicketError.INVALID
