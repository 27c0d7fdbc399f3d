"""Awareness (presence, cursors) of a room: relayed, never stored.

A socket may only speak for the client ids it introduced (it cannot erase someone else's
cursor); entries from other processes have no local owner. y-protocols rules: an entry
replaces the current one when its clock is higher, or equal with a removal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from docs_app.collab.protocol import AwarenessEntry


@dataclass
class PresenceState:
    clock: int
    state: str
    owner: Any | None  # the local socket that sent it; None: another process
    seen: float = field(default_factory=time.monotonic)

    @property
    def removed(self) -> bool:
        return self.state == "null"


class Presence:
    def __init__(self) -> None:
        self.states: dict[int, PresenceState] = {}

    def entries(self, *, local_only: bool = False) -> list[AwarenessEntry]:
        """Current (not removed) entries; ``local_only``: those of this process's sockets."""
        return [
            AwarenessEntry(client_id, state.clock, state.state)
            for client_id, state in self.states.items()
            if not state.removed and (state.owner is not None or not local_only)
        ]

    def accepted_from(self, peer: Any, entries: list[AwarenessEntry]) -> list[AwarenessEntry]:
        """The entries ``peer`` may speak for (recording it as their owner)."""
        accepted = []
        for entry in entries:
            current = self.states.get(entry.client_id)
            if current is not None and current.owner is not None and current.owner is not peer:
                continue
            peer.client_ids.add(entry.client_id)
            accepted.append(entry)
        return accepted

    def apply(
        self, entries: list[AwarenessEntry], owner: Any | None, *, remote: bool = False
    ) -> list[AwarenessEntry]:
        """Apply ``entries`` from ``owner`` (a local socket), from another process
        (``remote``), or from the room itself (neither: departures and expiries keep the
        current owner); returns those that changed something (to relay)."""
        now = time.monotonic()
        changed = []
        for entry in entries:
            current = self.states.get(entry.client_id)
            if current is None or entry.clock > current.clock or (
                entry.clock == current.clock and entry.removed and not current.removed
            ):
                if remote:
                    keep = None
                elif owner is not None:
                    keep = owner
                else:
                    keep = current.owner if current is not None else None
                self.states[entry.client_id] = PresenceState(entry.clock, entry.state, keep, now)
                changed.append(entry)
            elif entry.clock == current.clock:
                current.seen = now
        return changed

    def departures(self, peer: Any) -> list[AwarenessEntry]:
        """Removal entries for the clients of a socket that closed."""
        return [
            AwarenessEntry(client_id, self.states[client_id].clock + 1, "null")
            for client_id in peer.client_ids
            if client_id in self.states and self.states[client_id].owner is peer
        ]

    def expired(self, timeout: float) -> list[AwarenessEntry]:
        """Removal entries for states not renewed within ``timeout`` seconds; entries removed
        that long ago are forgotten (kept a while so that late duplicates are ignored)."""
        limit = time.monotonic() - timeout
        stale = []
        for client_id, state in list(self.states.items()):
            if state.seen >= limit:
                continue
            if state.removed:
                del self.states[client_id]
            else:
                stale.append(AwarenessEntry(client_id, state.clock + 1, "null"))
        return stale
