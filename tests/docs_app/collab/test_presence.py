"""The presence table of a room: y-protocols clock rules, ownership, departures, expiry."""

from __future__ import annotations

import time
from types import SimpleNamespace

from docs_app.collab.protocol import AwarenessEntry
from docs_app.collab.rooms.presence import Presence


def peer():
    return SimpleNamespace(client_ids=set())


def test_higher_clock_wins_and_equal_clock_only_renews():
    presence, alice = Presence(), peer()
    assert presence.apply([AwarenessEntry(1, 2, '{"n":"a"}')], alice)
    assert presence.apply([AwarenessEntry(1, 1, '{"n":"old"}')], alice) == []
    assert presence.apply([AwarenessEntry(1, 2, '{"n":"same"}')], alice) == []
    assert presence.entries() == [AwarenessEntry(1, 2, '{"n":"a"}')]
    # A removal at the same clock is applied.
    assert presence.apply([AwarenessEntry(1, 2, "null")], alice)
    assert presence.entries() == []


def test_a_socket_speaks_only_for_its_own_clients():
    presence, alice, mallory = Presence(), peer(), peer()
    presence.apply(presence.accepted_from(alice, [AwarenessEntry(7, 1, "{}")]), alice)
    assert presence.accepted_from(mallory, [AwarenessEntry(7, 5, "null")]) == []
    assert presence.departures(mallory) == []
    assert presence.departures(alice) == [AwarenessEntry(7, 2, "null")]


def test_remote_entries_have_no_owner_and_are_not_local():
    presence, alice = Presence(), peer()
    presence.apply([AwarenessEntry(1, 1, "{}")], alice)
    presence.apply([AwarenessEntry(2, 1, "{}")], None, remote=True)
    assert presence.entries(local_only=True) == [AwarenessEntry(1, 1, "{}")]
    assert len(presence.entries()) == 2


def test_states_not_renewed_expire_and_removed_ones_are_forgotten():
    presence, alice = Presence(), peer()
    presence.apply([AwarenessEntry(1, 3, "{}"), AwarenessEntry(2, 1, "{}")], alice)
    presence.states[1].seen = time.monotonic() - 31
    stale = presence.expired(30)
    assert stale == [AwarenessEntry(1, 4, "null")]
    presence.apply(stale, None)  # what the room does: relay the removal
    assert presence.states[1].removed and presence.states[1].owner is alice
    presence.states[1].seen = time.monotonic() - 31
    assert presence.expired(30) == []
    assert 1 not in presence.states and 2 in presence.states
