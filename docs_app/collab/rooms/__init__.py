"""Rooms: one in-memory copy per document being edited and process (:mod:`.room`), its
presence table (:mod:`.presence`), and the per-event-loop registry (:mod:`.registry`)."""

from docs_app.collab.rooms.registry import Registry, registry
from docs_app.collab.rooms.room import (
    ACL_GROUP,
    PROCESS_ID,
    Peer,
    PersistError,
    Room,
    WriteRefused,
    in_thread,
    room_group,
)

__all__ = [
    "ACL_GROUP",
    "PROCESS_ID",
    "Peer",
    "PersistError",
    "WriteRefused",
    "Registry",
    "Room",
    "in_thread",
    "registry",
    "room_group",
]
