"""uvicorn vs granian serving the real Communs ASGI app (``suite.asgi:application``).

Run: ``python bench/asgi_servers.py`` (``--duration 3`` for a quick run; ``--help``).

What it does, for each server (one worker each, on this machine):

1. prepares a PostgreSQL database (``--database-url``, default
   ``postgresql://postgres@127.0.0.1:5432/communs_bench``: created if missing, migrated) with a
   user and an API token made by the ``suite`` CLI; uses Redis for the channel layer when
   ``--redis-url`` answers (as in production);
2. starts the server: ``uvicorn --loop uvloop --http httptools`` or
   ``granian --interface asgi``;
3. HTTP: ``wrk`` (or, if absent, a built-in asyncio keep-alive client in another process)
   at ``--connections`` for ``--duration`` seconds on ``GET /healthz`` (no database) and on
   ``GET /api/v1/users/me`` with a bearer token (token lookup + user query);
4. websockets: ``--ws-clients`` clients, each with its own ticket from
   ``POST /api/v1/realtime/tickets``, connect at once to ``/ws/events/``; we time each
   connection until its ``session.ready`` message, then ``--ws-rounds`` ``ping``/``pong``
   round trips per client, all clients at once; we also check the close codes of a bad and
   of a missing ticket (4401 with the reason);
5. RSS of the server's process tree (granian runs a supervisor and a worker process): idle,
   after the HTTP load, and with all websocket clients connected.

Results of ``python bench/asgi_servers.py --duration 10 --repeat 3`` (medians of 3
interleaved runs), 2026-11-23: 2 cores ``AMD EPYC`` (/proc/cpuinfo), 24 GB, Debian 12.11,
Python 3.11.7, Django 5.2.19, Channels 4.3.2, uvicorn 0.54.0 (uvloop 0.23.0, httptools
0.9.0, websockets 17.4), granian 2.8.7; PostgreSQL 15.20 and Redis 7.0.15 (channel layer)
on the same machine; wrk 4.1.0, 1 thread, 32 connections, 10 s per endpoint; 200 websocket
clients x 20 ping/pong round trips. The machine was shared with other jobs (load average
2.6 to 3.5 during the runs), so single runs vary by up to 2x; compare the columns, not
the absolute numbers.

| | uvicorn | granian |
|---|---|---|
| version | 0.54.0 | 2.8.7 |
| /healthz req/s | 308 | 362 |
| /healthz p50 / p99 ms | 93.58 / 242.77 | 83.77 / 181.51 |
| /api/v1/users/me req/s | 109 | 103 |
| /api/v1/users/me p50 / p99 ms | 278.05 / 471.66 | 294.77 / 475.64 |
| HTTP errors | 0 | 0 |
| bare ASGI app req/s (no Django) | 25705 | 23178 |
| bare ASGI app p50 / p99 ms | 1.21 / 2.82 | 0.94 / 12.69 |
| ws connect p50 / p99 ms | 2175.9 / 2193.6 | 2376.9 / 2391.9 |
| ws all clients ready ms | 2287 | 2425 |
| ws ping/pong p50 / p99 ms | 51.30 / 163.34 | 33.62 / 129.09 |
| ws ping/pong per s | 3449 | 5408 |
| ws close (bad / no ticket) | 4401 ticket_invalid / 4401 not_authenticated | 4401 ticket_invalid / 4401 not_authenticated |
| RSS idle MB | 103 | 135 |
| RSS after HTTP load MB | 107 | 137 |
| RSS with ws clients MB | 132 | 175 |
| processes | 1 | 2 |

Reading it: on Django endpoints the two servers are within run-to-run noise, because the
time goes to Django's ASGI bridge to sync code (2-4 ms per request with a single
connection: asgiref's ``ThreadSensitiveContext`` starts a new thread for every request and
another to join it) and, on ``/users/me``, to opening a PostgreSQL connection per request
(``DATABASE_CONN_MAX_AGE=0``; a bare psycopg connect takes about 7 ms here). Without
Django (bare ASGI app) the two are within noise (granian ahead in some runs, behind in others, with a longer p99); on
websockets (Channels consumer, no database) granian relayed more ping/pongs in every run
(1.1x to 2.2x) with lower latency. granian runs a supervisor and a worker process and
uses about 32 MB more. Decision and discussion:
``docs/decisions/0002-asgi-server.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from environment import HOST, ROOT
from http_load import run_load
from processes import (
    ChildProcess,
    healthz_answers,
    port_answers,
    process_tree,
    rss_kb,
    suite_command,
)
from reporting import cpu_model, percentile

from suite.embedded.engines import ensure_database_at, free_port

BENCH_EMAIL = "bench@communs.localhost"


# --- environment ------------------------------------------------------------------------------


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    return port_answers(parts.hostname or HOST, parts.port or 6379)


def server_env(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="suite.settings",
        DATABASE_URL=args.database_url,
        SUITE_DATA_DIR=str(data_dir),
        SECRET_KEY=secrets.token_urlsafe(50),
        LOG_LEVEL="warning",
        DEBUG="false",
        PYTHONPATH=str(ROOT),
    )
    env.pop("S3_ENDPOINT_URL", None)  # not used by these endpoints; no embedded S3 started
    if args.redis_url and reachable(args.redis_url):
        env.update(REDIS_URL=args.redis_url, REDIS_KEY_PREFIX=f"communs-bench-{os.getpid()}")
    else:
        env.pop("REDIS_URL", None)
    return env


def prepare(env: dict[str, str]) -> str:
    """Migrate, create the bench user if needed, return a fresh API token."""
    suite_command(env, "migrate")
    suite_command(env, "user", "create", "--email", BENCH_EMAIL, "--name", "Bench", check=False)
    return suite_command(env, "token", "create", "--user", BENCH_EMAIL, "--name", "bench")


# --- servers ----------------------------------------------------------------------------------

APP = "suite.asgi:application"
# A bare ASGI callable: what each server costs without Django (reference row).
HELLO = "asgi_servers:hello_app"


async def hello_app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"16")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"status": "ok"}'})


def server_command(name: str, port: int, target: str = APP) -> list[str]:
    if name == "uvicorn":
        return [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--app-dir",
            str(ROOT / "bench"),
            "--host",
            HOST,
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--ws",
            "websockets",
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    if name == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            "--working-dir",
            str(ROOT / "bench"),
            target,
        ]
    raise ValueError(name)


def server_version(name: str) -> str:
    module = __import__(name)
    return getattr(module, "__version__", "?")


def tree_rss_mb(pid: int) -> float:
    return rss_kb(process_tree(pid)) / 1024


# --- HTTP load --------------------------------------------------------------------------------

# --- websockets -------------------------------------------------------------------------------


async def websocket_bench(
    base: str, token: str, clients: int, rounds: int, server_pid: int
) -> dict[str, object]:
    import httpx
    import websockets

    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        semaphore = asyncio.Semaphore(16)

        async def ticket() -> str:
            async with semaphore:
                response = await http.post("/api/v1/realtime/tickets")
                response.raise_for_status()
                return response.json()["ticket"]

        tickets = await asyncio.gather(*(ticket() for _ in range(clients)))
    ws_base = base.replace("http://", "ws://") + "/ws/events/"

    async def connect(ticket: str) -> tuple[object, float]:
        started = time.perf_counter()
        connection = await websockets.connect(
            f"{ws_base}?ticket={ticket}", open_timeout=60, max_queue=None
        )
        ready = json.loads(await connection.recv())
        assert ready["type"] == "session.ready", ready
        return connection, (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    results = await asyncio.gather(*(connect(t) for t in tickets))
    connect_all_ms = (time.perf_counter() - started) * 1000
    connections = [connection for connection, _ in results]
    connect_ms = [elapsed for _, elapsed in results]
    rss_connected = tree_rss_mb(server_pid)

    round_trips: list[float] = []

    async def ping(connection: object) -> None:
        for _ in range(rounds):
            sent = time.perf_counter()
            await connection.send("ping")
            assert await connection.recv() == "pong"
            round_trips.append((time.perf_counter() - sent) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(ping(connection) for connection in connections))
    ping_elapsed = time.perf_counter() - started
    await asyncio.gather(*(connection.close() for connection in connections))

    close_codes = {}
    for label, query in (("bad_ticket", "?ticket=bogus"), ("no_ticket", "")):
        async with websockets.connect(ws_base + query) as connection:
            try:
                await connection.recv()
            except websockets.ConnectionClosed as closed:
                close_codes[label] = (
                    f"{closed.rcvd.code} {closed.rcvd.reason}" if closed.rcvd else "none"
                )
    return {
        "connect_p50_ms": statistics.median(connect_ms),
        "connect_p99_ms": percentile(connect_ms, 0.99),
        "connect_all_ms": connect_all_ms,
        "rtt_p50_ms": statistics.median(round_trips),
        "rtt_p99_ms": percentile(round_trips, 0.99),
        "pings_per_s": len(round_trips) / ping_elapsed,
        "rss_connected_mb": rss_connected,
        "close_codes": close_codes,
    }


# --- driver -----------------------------------------------------------------------------------


def start_server(name: str, env: dict[str, str], target: str) -> tuple[ChildProcess, str]:
    port = free_port()
    base = f"http://{HOST}:{port}"
    process = ChildProcess(f"{name} server", env, Path(env["SUITE_DATA_DIR"]) / f"{name}.log")
    process.launch(
        server_command(name, port, target),
        cwd=ROOT,
        ready=lambda: healthz_answers(base),
        timeout=60,
        poll=0.2,
    )
    return process, base


def bench_hello(name: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, float]:
    process, base = start_server(name, env, HELLO)
    try:
        run_load(base + "/", duration=1, connections=args.connections, token=None)
        return run_load(
            base + "/", duration=args.duration, connections=args.connections, token=None
        )
    finally:
        process.stop()


def bench_server(
    name: str, args: argparse.Namespace, env: dict[str, str], token: str
) -> dict[str, object]:
    process, base = start_server(name, env, APP)
    try:
        result: dict[str, object] = {"server": name, "version": server_version(name)}
        for path in ("/healthz", "/api/v1/users/me"):  # warm up imports, connections, caches
            run_load(base + path, duration=1, connections=args.connections, token=token)
        result["rss_idle_mb"] = tree_rss_mb(process.pid)
        result["healthz"] = run_load(
            base + "/healthz", duration=args.duration, connections=args.connections, token=None
        )
        result["me"] = run_load(
            base + "/api/v1/users/me",
            duration=args.duration,
            connections=args.connections,
            token=token,
        )
        result["rss_after_http_mb"] = tree_rss_mb(process.pid)
        result["ws"] = asyncio.run(
            websocket_bench(base, token, args.ws_clients, args.ws_rounds, process.pid)
        )
        result["processes"] = len(process_tree(process.pid))
    finally:
        process.stop()
    result["hello"] = bench_hello(name, args, env)
    return result


def machine() -> str:
    wrk = (
        subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()[1]
        if shutil.which("wrk")
        else "none (python client)"
    )
    return (
        f"{os.cpu_count()} cores {cpu_model()}, Python {platform.python_version()}, wrk {wrk}, "
        f"{time.strftime('%Y-%m-%d')}"
    )


def p50_p99(part: str, p50: str, p99: str, digits: int = 2) -> Callable[[Any], str]:
    """A cell: ``results[part][p50] / results[part][p99]``."""
    return lambda r: f"{r[part][p50]:.{digits}f} / {r[part][p99]:.{digits}f}"


def table(results: list[dict[str, object]]) -> str:
    rows: list[tuple[str, Callable[[Any], str]]] = [
        ("version", lambda r: r["version"]),
        ("/healthz req/s", lambda r: f"{r['healthz']['rps']:.0f}"),
        ("/healthz p50 / p99 ms", p50_p99("healthz", "p50_ms", "p99_ms")),
        ("/api/v1/users/me req/s", lambda r: f"{r['me']['rps']:.0f}"),
        ("/api/v1/users/me p50 / p99 ms", p50_p99("me", "p50_ms", "p99_ms")),
        ("HTTP errors", lambda r: f"{r['healthz']['errors'] + r['me']['errors']:.0f}"),
        ("bare ASGI app req/s (no Django)", lambda r: f"{r['hello']['rps']:.0f}"),
        ("bare ASGI app p50 / p99 ms", p50_p99("hello", "p50_ms", "p99_ms")),
        ("ws connect p50 / p99 ms", p50_p99("ws", "connect_p50_ms", "connect_p99_ms", 1)),
        ("ws all clients ready ms", lambda r: f"{r['ws']['connect_all_ms']:.0f}"),
        ("ws ping/pong p50 / p99 ms", p50_p99("ws", "rtt_p50_ms", "rtt_p99_ms")),
        ("ws ping/pong per s", lambda r: f"{r['ws']['pings_per_s']:.0f}"),
        (
            "ws close (bad / no ticket)",
            lambda r: " / ".join(
                str(r["ws"]["close_codes"].get(key)) for key in ("bad_ticket", "no_ticket")
            ),
        ),
        ("RSS idle MB", lambda r: f"{r['rss_idle_mb']:.0f}"),
        ("RSS after HTTP load MB", lambda r: f"{r['rss_after_http_mb']:.0f}"),
        ("RSS with ws clients MB", lambda r: f"{r['ws']['rss_connected_mb']:.0f}"),
        ("processes", lambda r: f"{r['processes']:.0f}"),
    ]
    lines = [
        "| | " + " | ".join(str(r["server"]) for r in results) + " |",
        "|---" * (len(results) + 1) + "|",
    ]
    lines += [
        "| " + label + " | " + " | ".join(cell(r) for r in results) + " |" for label, cell in rows
    ]
    return "\n".join(lines)


def median_of(runs: list[dict[str, object]]) -> dict[str, object]:
    """Per-metric median of repeated runs (numbers); other values from the first run."""
    merged: dict[str, object] = {}
    for key, first in runs[0].items():
        values = [run[key] for run in runs]
        if isinstance(first, dict):
            merged[key] = median_of(values)  # type: ignore[arg-type]
        elif isinstance(first, int | float) and not isinstance(first, bool):
            merged[key] = statistics.median(values)  # type: ignore[type-var]
        else:
            merged[key] = first
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per HTTP measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--ws-clients", type=int, default=200)
    parser.add_argument(
        "--ws-rounds", type=int, default=20, help="ping/pong round trips per client"
    )
    parser.add_argument("--servers", default="uvicorn,granian")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/communs_bench"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per server, interleaved; medians are reported"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="communs-bench-") as data_dir:
        env = server_env(args, Path(data_dir))
        ensure_database_at(args.database_url)
        token = prepare(env)
        print(f"machine: {machine()}", file=sys.stderr)
        print(f"channel layer: {'Redis' if env.get('REDIS_URL') else 'in-memory'}", file=sys.stderr)
        names = args.servers.split(",")
        runs: dict[str, list[dict[str, object]]] = {name: [] for name in names}
        for repeat in range(args.repeat):
            # Alternate the order (A B, B A, ...) so drift in the machine's load is shared.
            for name in names if repeat % 2 == 0 else names[::-1]:
                print(
                    f"run {repeat + 1}/{args.repeat}: {name} (load average {os.getloadavg()[0]:.2f})",
                    file=sys.stderr,
                    flush=True,
                )
                runs[name].append(bench_server(name, args, env, token))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    print(table([median_of(runs[name]) for name in names]))


if __name__ == "__main__":
    main()
