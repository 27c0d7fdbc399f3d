"""Parts 3 and 4 of bench/docs_sync.py: N clients editing one document (``suite serve``
next to the reference y-websocket server, driven by ``docs_sync_load.mjs``), and the memory
of idle loaded documents (see that module's docstring for the method)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from docs_sync_env import STEP1_EMPTY, Tickets, child, new_document, ticket
from processes import CpuWindow, Server, pids_named, status_kb

BENCH = Path(__file__).resolve().parent


# --- 3. N clients ----------------------------------------------------------------------------


def server_cpu(server_pid: int) -> CpuWindow:
    """CPU of the server and of PostgreSQL + Redis; see :func:`cpu_percent`."""
    return CpuWindow(
        {"server": lambda: [server_pid], "engines": lambda: pids_named("postgres", "redis-server")}
    )


def cpu_percent(window: CpuWindow) -> dict[str, float]:
    percent = window.percent
    return {
        "server_cpu_percent": percent["server"],
        "engines_cpu_percent": percent["engines"],
    }


def run_load_client(
    urls: list[str], server_pid: int, args: argparse.Namespace, modules: Path, *, deflate: bool
) -> dict[str, Any]:
    config = {
        "urls": urls,
        "rate": args.rate,
        "warmup": args.warmup,
        "duration": args.duration,
        "drain": 3,
        "modules": str(modules),
        "deflate": deflate,
    }
    meter = server_cpu(server_pid)
    process = subprocess.Popen(
        ["node", str(BENCH / "docs_sync_load.mjs"), json.dumps(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    cpu: dict[str, float] = {}
    result: dict[str, Any] | None = None
    for line in process.stdout:
        line = line.strip()
        if line == "MEASURE_START":
            meter.start()
        elif line == "MEASURE_END":
            meter.stop()
            cpu = cpu_percent(meter)
        elif line.startswith("{"):
            result = json.loads(line)
    process.wait(60)
    if result is None:
        raise RuntimeError(
            f"load client failed: {process.stderr.read()[-3000:] if process.stderr else ''}"
        )
    return {**result, **cpu}


def measure_clients(
    suite: Server, reference: Server, user: Any, token: str, args: argparse.Namespace, modules: Path
) -> list[dict[str, Any]]:
    points = [(count, kind, False) for count in args.clients for kind in ("suite", "reference")]
    if args.deflate_point:
        points.append((max(args.clients), "suite", True))
    rows = []
    for count, kind, deflate in points:
        server = suite if kind == "suite" else reference
        document_id = new_document(user, f"{count} editors")
        if kind == "suite":
            url = f"{server.ws}/ws/docs/{document_id}?ticket={ticket(server, token)}"
        else:
            url = f"{server.ws}/{document_id}"
        print(
            f"  {kind}, {count} clients{', deflate' if deflate else ''}",
            file=sys.stderr,
            flush=True,
        )
        load_before = os.getloadavg()[0]
        result = run_load_client([url] * count, server.pid, args, modules, deflate=deflate)
        result.update(
            server=kind, deflate=deflate, rss_mb=server.rss_kb() / 1024, load_before=load_before
        )
        rows.append(result)
    return rows


# --- 4. memory per loaded document --------------------------------------------------------------


def create_small_documents(user: Any, count: int) -> list[str]:
    import pycrdt

    from docs_app.models import DocumentSnapshot

    ids, snapshots = [], []
    for index in range(count):
        document_id = new_document(user, f"small {index}")
        doc = pycrdt.Doc()
        doc.get("text", type=pycrdt.Text).insert(
            0,
            f"Note {index}: a short document of about a hundred characters, opened and left idle.",
        )
        snapshots.append(DocumentSnapshot(document_id=document_id, state=doc.get_update()))
        ids.append(str(document_id))
    DocumentSnapshot.objects.bulk_create(snapshots)
    return ids


def child_rooms(ids: list[str]) -> dict[str, Any]:
    """In a fresh process: RSS growth of loading ``ids[1:]`` as rooms (``ids[0]`` warms up)."""
    from docs_app.collab import rooms

    async def load() -> dict[str, Any]:
        registry = rooms.registry()
        await registry.room(ids[0])
        gc.collect()
        await asyncio.sleep(0.5)
        before = status_kb("self", "VmRSS")
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(16)

        async def one(document_id: str) -> None:
            async with semaphore:
                await registry.room(document_id)

        await asyncio.gather(*(one(document_id) for document_id in ids[1:]))
        seconds = time.perf_counter() - started
        gc.collect()
        await asyncio.sleep(1)
        after = status_kb("self", "VmRSS")
        assert len(registry.rooms) == len(ids)
        return {
            "rooms": len(ids) - 1,
            "rss_before_kb": before,
            "rss_after_kb": after,
            "per_room_kb": (after - before) / (len(ids) - 1),
            "load_seconds": seconds,
        }

    return asyncio.run(load())


async def hold_sockets(
    server: Server, tickets: Tickets, ids: list[str], idle_seconds: float, compression: str | None
) -> dict[str, Any]:
    import websockets

    async def open_one(document_id: str) -> Any:
        websocket = await websockets.connect(
            f"{server.ws}/ws/docs/{document_id}?ticket={tickets.get()}",
            max_size=None,
            proxy=None,
            open_timeout=120,
            ping_interval=None,
            compression=compression,
        )
        await websocket.send(STEP1_EMPTY)
        while (await websocket.recv())[:2] != b"\x00\x01":
            pass
        return websocket

    sockets = [await open_one(ids[0])]
    await asyncio.sleep(1)
    before = server.rss_kb()
    semaphore = asyncio.Semaphore(16)

    async def limited(document_id: str) -> Any:
        async with semaphore:
            return await open_one(document_id)

    started = time.perf_counter()
    sockets += await asyncio.gather(*(limited(document_id) for document_id in ids[1:]))
    seconds = time.perf_counter() - started
    await asyncio.sleep(2)
    after = server.rss_kb()
    meter = server_cpu(server.pid)
    meter.start()
    await asyncio.sleep(idle_seconds)
    meter.stop()
    idle = cpu_percent(meter)
    await asyncio.gather(*(websocket.close() for websocket in sockets))
    count = len(ids) - 1
    return {
        "sockets": count,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "per_document_kb": (after - before) / count,
        "connect_seconds": seconds,
        "idle_cpu_percent": idle["server_cpu_percent"],
    }


def measure_memory(
    user: Any, token: str, env: dict[str, str], args: argparse.Namespace, data_dir: Path
) -> dict[str, Any]:
    ids = create_small_documents(user, args.rooms + 1)
    rooms = child(["--child", "rooms"], ids)
    sockets = {}
    # Browsers always offer permessage-deflate; the server accepts it only when configured to.
    for name, compression, extra in (
        ("deflate", "deflate", {}),
        ("plain", None, {}),
        ("compressing", "deflate", {"WS_PER_MESSAGE_DEFLATE": "true"}),
    ):
        server = Server("suite", {**env, **extra}, data_dir / "memory-server.log").start()
        try:
            sockets[name] = asyncio.run(
                hold_sockets(server, Tickets(server, token), ids, 5, compression)
            )
        finally:
            server.stop()
    return {"rooms": rooms, "sockets": sockets}
