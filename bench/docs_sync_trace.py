"""The automerge-paper editing trace as Yjs updates, for bench/docs_sync.py.

The trace (josephg/editing-traces, see ``--trace``) is replayed into a pycrdt
``Doc`` with a ``Text`` named ``text``, one transaction per recorded edit, and every update
the transactions emit is kept, in order: what a Yjs editor would have sent, keystroke by
keystroke. Replaying takes several seconds, so the updates are cached in ``bench/.cache/``
(gitignored) as ``u32 length + bytes`` records, with the state of the document before its
last ``tail`` edits (the snapshot of the cold-load measure).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from environment import CACHE_DIR

MAGIC = b"YUPDATES1\n"
TEXT_NAME = "text"


@dataclass
class Trace:
    name: str
    updates: list[bytes]  # one per recorded edit, in order
    final_text: str
    base_state: bytes  # the document before its last ``tail`` edits
    tail: int
    replay_seconds: float | None  # None: read from the cache


def _cache_paths(trace_path: Path, tail: int) -> tuple[Path, Path]:
    stat = trace_path.stat()
    key = hashlib.sha256(
        f"{trace_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()
    ).hexdigest()[:12]
    stem = trace_path.name.split(".")[0]
    return CACHE_DIR / f"{stem}-{key}.updates", CACHE_DIR / f"{stem}-{key}.base-{tail}.state"


def _write_updates(path: Path, updates: list[bytes]) -> None:
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as out:
        out.write(MAGIC + struct.pack("<I", len(updates)))
        for update in updates:
            out.write(struct.pack("<I", len(update)))
            out.write(update)
    partial.replace(path)


def _read_updates(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError(f"{path}: not an updates cache")
    pos = len(MAGIC)
    (count,) = struct.unpack_from("<I", data, pos)
    pos += 4
    updates = []
    for _ in range(count):
        (length,) = struct.unpack_from("<I", data, pos)
        pos += 4
        updates.append(data[pos : pos + length])
        pos += length
    if pos != len(data):
        raise ValueError(f"{path}: trailing bytes")
    return updates


def replay(trace: dict, tail: int) -> tuple[list[bytes], bytes, str]:
    """Updates of every edit, the state before the last ``tail`` edits, the final text."""
    import pycrdt

    doc = pycrdt.Doc()
    text = doc.get(TEXT_NAME, type=pycrdt.Text)
    updates: list[bytes] = []
    subscription = doc.observe(lambda event: updates.append(event.update))
    transactions = trace["txns"]
    base_state = b""
    for index, transaction in enumerate(transactions):
        if index == len(transactions) - tail:
            base_state = doc.get_update()
        with doc.transaction():
            for position, deleted, inserted in transaction["patches"]:
                if deleted:
                    del text[position : position + deleted]
                if inserted:
                    text.insert(position, inserted)
    doc.unobserve(subscription)
    if tail == 0:
        base_state = doc.get_update()
    final = str(text)
    if final != trace["endContent"]:
        raise RuntimeError("replayed text differs from the trace's endContent")
    if len(updates) != len(transactions):
        raise RuntimeError(f"{len(updates)} updates for {len(transactions)} edits")
    return updates, base_state, final


def load_trace(trace_path: Path, *, tail: int) -> Trace:
    """The trace's updates, from the cache when it holds them (else replayed and cached)."""
    import pycrdt

    updates_path, base_path = _cache_paths(trace_path, tail)
    with gzip.open(trace_path, "rt", encoding="utf-8") as handle:
        trace = json.load(handle)
    final_text = trace["endContent"]
    if updates_path.exists() and base_path.exists():
        return Trace(
            trace_path.name,
            _read_updates(updates_path),
            final_text,
            base_path.read_bytes(),
            tail,
            None,
        )
    started = time.perf_counter()
    if updates_path.exists():
        updates = _read_updates(updates_path)
        doc = pycrdt.Doc()
        for update in updates[: len(updates) - tail]:
            doc.apply_update(update)
        base_state = doc.get_update()
    else:
        updates, base_state, final_text = replay(trace, tail)
    seconds = time.perf_counter() - started
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    _write_updates(updates_path, updates)
    base_path.write_bytes(base_state)
    return Trace(trace_path.name, updates, final_text, base_state, tail, seconds)
