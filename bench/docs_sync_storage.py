"""Parts 1 and 2 of bench/docs_sync.py: cold load of a large document (storage alone, in
process, and end to end through ``suite serve``), snapshot reads from S3 and PostgreSQL,
and compaction of a long update log (see that module's docstring for the method)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from docs_sync_env import STEP1_EMPTY, child, log_rows, new_document, ticket
from processes import Server, status_kb
from reporting import summary

EMPTY_STATE_VECTOR = b"\x00"


# --- 1. cold load -------------------------------------------------------------------------------


def restore_cold_document(document_id: uuid.UUID, base_state: bytes, tail: list[bytes]) -> None:
    """Snapshot = the document before its last edits, log = those edits."""
    from django.db import transaction

    from docs_app.collab import storage
    from docs_app.models import DocumentSnapshot, DocumentUpdate

    with transaction.atomic():
        DocumentUpdate.objects.filter(document_id=document_id).delete()
        DocumentSnapshot.objects.update_or_create(
            document_id=document_id, defaults={"state": base_state}
        )
    storage.append(document_id, tail)


def measure_storage_load(
    document_id: uuid.UUID, iterations: int, final_text: str
) -> dict[str, Any]:
    import pycrdt

    from docs_app.collab import protocol, storage

    parts: dict[str, list[float]] = {"load_state": [], "build": [], "encode": [], "total": []}
    for index in range(iterations + 3):  # 3 warm-up rounds
        started = time.perf_counter()
        snapshot, rows = storage.load_state(document_id)
        loaded = time.perf_counter()
        doc = storage.new_doc()
        doc.apply_update(snapshot)
        for row in rows:
            doc.apply_update(row)
        built = time.perf_counter()
        message = protocol.step2(doc.get_update(EMPTY_STATE_VECTOR))
        done = time.perf_counter()
        if index == 0:
            text = str(doc.get("text", type=pycrdt.Text))
            assert text == final_text and len(rows) > 0, "the stored document is not the trace's"
            sizes = {
                "snapshot_bytes": len(snapshot),
                "log_rows": len(rows),
                "step2_bytes": len(message),
            }
        if index >= 3:
            for name, seconds in (
                ("load_state", loaded - started),
                ("build", built - loaded),
                ("encode", done - built),
                ("total", done - started),
            ):
                parts[name].append(seconds * 1000)
    return {**{name: summary(values) for name, values in parts.items()}, **sizes}


def measure_snapshot_fetch(document_id: uuid.UUID, iterations: int) -> dict[str, Any]:
    """The same snapshot read from S3 (SeaweedFS, boto3) and from PostgreSQL, interleaved."""
    import boto3
    import psycopg
    from botocore.config import Config
    from django.db import connection

    from docs_app.models import DocumentSnapshot

    state = bytes(DocumentSnapshot.objects.get(document_id=document_id).state)
    client = boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    bucket, key = os.environ["S3_BUCKET"], f"bench/snapshots/{document_id}"
    client.put_object(Bucket=bucket, Key=key, Body=state)
    timings: dict[str, list[float]] = {"s3": [], "postgresql": [], "postgresql_binary": []}
    query = "SELECT state FROM docs_app_documentsnapshot WHERE document_id = %s"
    connection.ensure_connection()
    for index in range(iterations + 3):
        started = time.perf_counter()
        from_s3 = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3_done = time.perf_counter()
        with connection.cursor() as cursor:  # what the ORM does: text format, bytea as hex
            cursor.execute(query, [document_id])
            from_pg = bytes(cursor.fetchone()[0])
        pg_done = time.perf_counter()
        # psycopg binary results (Django's own cursors are client-side: text format only).
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(query, [document_id], binary=True)
            from_pg_binary = bytes(cursor.fetchone()[0])
        done = time.perf_counter()
        assert from_s3 == state == from_pg == from_pg_binary
        if index >= 3:
            timings["s3"].append((s3_done - started) * 1000)
            timings["postgresql"].append((pg_done - s3_done) * 1000)
            timings["postgresql_binary"].append((done - pg_done) * 1000)
    client.delete_object(Bucket=bucket, Key=key)
    return {"bytes": len(state), **{name: summary(values) for name, values in timings.items()}}


def measure_room_load(
    document_id: uuid.UUID, base_state: bytes, tail: list[bytes], iterations: int
) -> dict[str, Any]:
    """``registry().room(id)`` in this process (channel-layer subscription, ``load_state`` in
    the thread pool, building the room's ``Doc``), the room unloaded after each one."""
    from channels.db import database_sync_to_async
    from channels.layers import get_channel_layer

    from docs_app.collab import rooms

    async def run() -> tuple[list[float], list[float]]:
        registry = rooms.registry()
        layer = get_channel_layer()
        timings, subscriptions = [], []
        for index in range(iterations + 2):
            await database_sync_to_async(restore_cold_document)(document_id, base_state, tail)
            started = time.perf_counter()
            room = await registry.room(document_id)
            loaded = time.perf_counter()
            await room.unload()
            # What the room's subscription alone costs (the first step of Room.start).
            subscribing = time.perf_counter()
            channel = await layer.new_channel(prefix="bench.")
            await layer.group_add(f"bench.{document_id}", channel)
            subscribed = time.perf_counter()
            await layer.group_discard(f"bench.{document_id}", channel)
            if index >= 2:
                timings.append((loaded - started) * 1000)
                subscriptions.append((subscribed - subscribing) * 1000)
        return timings, subscriptions

    timings, subscriptions = asyncio.run(run())
    return {**summary(timings), "subscribe": summary(subscriptions)}


def wait_compacted(document_id: uuid.UUID, timeout: float = 30) -> float:
    """Wait until the room's unload compacted the log; seconds waited."""
    started = time.monotonic()
    while log_rows(document_id) and time.monotonic() - started < timeout:
        time.sleep(0.02)
    return time.monotonic() - started


def watch_wire_sizes(extension: Any, sizes: dict[bytes, int]) -> None:
    """Record the size on the wire of each message the deflate extension decodes, by the
    message's first 64 bytes."""
    decode = extension.decode

    def recording(frame: Any, **kwargs: Any) -> Any:
        decoded = decode(frame, **kwargs)
        sizes[bytes(decoded.data[:64])] = len(frame.data)
        return decoded

    extension.decode = recording


def measure_cold_e2e(
    server: Server, token: str, document_id: uuid.UUID, trace: Any, iterations: int
) -> dict[str, Any]:
    import pycrdt
    from websockets.sync.client import connect

    from docs_app.collab import protocol

    tail = trace.updates[len(trace.updates) - trace.tail :]
    series: dict[str, list[float]] = {"deflate": [], "plain": []}
    handshakes: list[float] = []
    synced: dict[str, list[float]] = {"deflate": [], "plain": []}
    first: dict[str, float] = {}
    unload_waits = []
    for index in range(2 * iterations + 1):
        mode = "deflate" if index % 2 == 0 else "plain"
        restore_cold_document(document_id, trace.base_state, tail)
        url = f"{server.ws}/ws/docs/{document_id}?ticket={ticket(server, token)}"
        started = time.perf_counter()
        with connect(
            url,
            compression="deflate" if mode == "deflate" else None,
            max_size=None,
            proxy=None,
            open_timeout=60,
        ) as websocket:
            connected = time.perf_counter()
            wire: dict[bytes, int] = {}
            if index == 0 and websocket.protocol.extensions:
                watch_wire_sizes(websocket.protocol.extensions[0], wire)
            websocket.send(STEP1_EMPTY)
            while True:
                message = websocket.recv(timeout=60)
                if isinstance(message, bytes) and message[:2] == b"\x00\x01":
                    break
            done = time.perf_counter()
        if index == 0:
            doc = pycrdt.Doc()
            doc.apply_update(protocol.decode_message(message).payload)
            assert str(doc.get("text", type=pycrdt.Text)) == trace.final_text, (
                "SyncStep2 is not the document"
            )
            first = {
                "total": (done - started) * 1000,
                "step2_bytes": len(message),
                "step2_wire_bytes": wire.get(message[:64], len(message)),
            }
        else:
            series[mode].append((done - started) * 1000)
            handshakes.append((connected - started) * 1000)
            synced[mode].append((done - connected) * 1000)
        unload_waits.append(wait_compacted(document_id))
    floor = []  # the platform's websocket floor: ticket, user, accept, one message back
    for index in range(iterations + 2):
        url = f"{server.ws}/ws/events/?ticket={ticket(server, token)}"
        started = time.perf_counter()
        with connect(url, compression=None, proxy=None, open_timeout=60) as websocket:
            assert json.loads(websocket.recv(timeout=60))["type"] == "session.ready"
            if index >= 2:
                floor.append((time.perf_counter() - started) * 1000)
    return {
        "first": first,
        "events_floor": summary(floor),
        **{mode: summary(values) for mode, values in series.items()},
        "handshake": summary(handshakes),
        **{f"step1_to_step2_{mode}": summary(values) for mode, values in synced.items()},
        "unload_wait_p50_ms": statistics.median(unload_waits) * 1000,
    }


# --- 2. compaction ------------------------------------------------------------------------------


def copy_log(document_id: uuid.UUID, updates: list[bytes]) -> float:
    from django.db import connection, transaction
    from django.utils import timezone

    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.cursor.copy(
            "COPY docs_app_documentupdate (document_id, data, created_at) FROM STDIN"
        ) as copy:
            for update in updates:
                copy.write_row((document_id, update, now))
        cursor.execute("ANALYZE docs_app_documentupdate")
    return time.perf_counter() - started


def stream_rows_seconds(document_id: uuid.UUID) -> tuple[float, int]:
    """The log read the way ``storage.compact`` reads it, without applying anything."""
    from django.db import transaction

    from docs_app.models import DocumentUpdate

    started = time.perf_counter()
    count = 0
    with transaction.atomic():
        rows = (
            DocumentUpdate.objects.filter(document_id=document_id)
            .order_by("id")
            .values_list("data", flat=True)
            .iterator(chunk_size=2000)
        )
        for data in rows:
            bytes(data)
            count += 1
    return time.perf_counter() - started, count


def apply_seconds(updates: list[bytes], *, merge_by: int) -> tuple[float, bytes]:
    import pycrdt

    started = time.perf_counter()
    doc = pycrdt.Doc()
    if merge_by <= 1:
        for update in updates:
            doc.apply_update(update)
    else:
        for start in range(0, len(updates), merge_by):
            doc.apply_update(pycrdt.merge_updates(*updates[start : start + merge_by]))
    state = doc.get_update()
    return time.perf_counter() - started, state


def child_compact(document_id: str) -> dict[str, Any]:
    """In a fresh process: ``storage.compact`` with its wall time and memory growth."""
    import pycrdt

    from docs_app.collab import storage
    from docs_app.models import DocumentSnapshot

    # Warm up the connection and the imports without touching the log (reading it here
    # would leave freed memory for the compaction to reuse, hiding its growth).
    DocumentSnapshot.objects.filter(document_id=document_id).exists()
    pycrdt.Doc().get_update()
    gc.collect()
    rss_before = status_kb("self", "VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux >= 4.0)
    peak_sampled = [rss_before]
    running = True

    def sample() -> None:
        while running:
            peak_sampled[0] = max(peak_sampled[0], status_kb("self", "VmRSS"))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    result = storage.compact(document_id)
    seconds = time.perf_counter() - started
    running = False
    sampler.join()
    assert result is not None
    return {
        "seconds": seconds,
        "merged": result.merged,
        "snapshot_bytes": result.snapshot_bytes,
        "version_created": result.version_created,
        "rss_before_kb": rss_before,
        "hwm_kb": status_kb("self", "VmHWM"),
        "rss_after_kb": status_kb("self", "VmRSS"),
        "sampled_peak_kb": peak_sampled[0],
    }


def measure_compaction(user: Any, trace: Any) -> dict[str, Any]:
    import pycrdt

    from docs_app.models import DocumentSnapshot

    document_id = new_document(user, "automerge-paper (compaction)")
    copy_seconds = copy_log(document_id, trace.updates)
    stream_seconds, rows = stream_rows_seconds(document_id)
    result = child(["--child", "compact", "--document", str(document_id)])
    assert result["merged"] == len(trace.updates) == rows
    stored = pycrdt.Doc()
    stored.apply_update(bytes(DocumentSnapshot.objects.get(document_id=document_id).state))
    assert str(stored.get("text", type=pycrdt.Text)) == trace.final_text, "compacted state differs"
    assert log_rows(document_id) == 0
    apply_one, _ = apply_seconds(trace.updates, merge_by=1)
    apply_merged, state_merged = apply_seconds(trace.updates, merge_by=2000)
    merged_doc = pycrdt.Doc()
    merged_doc.apply_update(state_merged)
    assert str(merged_doc.get("text", type=pycrdt.Text)) == trace.final_text
    return {
        **result,
        "copy_seconds": copy_seconds,
        "stream_seconds": stream_seconds,
        "apply_seconds": apply_one,
        "apply_merged_seconds": apply_merged,
        "updates_bytes": sum(map(len, trace.updates)),
    }
