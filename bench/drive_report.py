"""The Markdown report of bench/drive.py (one section per part, API against raw boto3), and
the machine line it starts with."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from drive_measure import small_medians
from reporting import MB, MIB, cpu_model, machine_line, percentile, postgresql_version, table_row

TARGET_RATIO = 0.95
TARGET_OVERHEAD_MS = 15.0


def machine() -> str:
    """The machine and the versions of what runs (Django set up)."""
    memory = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    pg = postgresql_version()
    import boto3
    import django
    import requests
    import uvicorn

    from suite.embedded.engines import weed_binary

    weed = subprocess.run([weed_binary(), "version"], capture_output=True, text=True).stdout.split()
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True
    ).stdout.split()
    return (
        f"{os.cpu_count()} cores {cpu_model()}, {memory / 2**20:.0f} GB, Python {platform.python_version()}, Django "
        f"{django.__version__}, uvicorn {uvicorn.__version__}, PostgreSQL {pg.split()[0]}, Redis "
        f"{next((w.split('=')[1] for w in redis_version if w.startswith('v=')), '?')}, SeaweedFS "
        f"{weed[2] if len(weed) > 2 else '?'} (`weed mini`), boto3 {boto3.__version__}, requests "
        f"{requests.__version__}, {time.strftime('%Y-%m-%d')}"
    )


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
            raw, api = (
                small_medians(small, workers, f"raw_{direction}"),
                small_medians(small, workers, f"api_{direction}"),
            )
            ratio = api["mb_s"] / raw["mb_s"]
            lines.append(
                table_row(
                    direction,
                    workers,
                    f"{raw['mb_s']:.0f} ({', '.join(f'{v:.0f}' for v in raw['mb_s_all'])})",
                    f"{api['mb_s']:.0f} ({', '.join(f'{v:.0f}' for v in api['mb_s_all'])})",
                    f"{ratio:.2f}",
                    ratio_status(ratio),
                    cpu_cell(raw["cpu"], CPU_NAMES),
                    cpu_cell(api["cpu"], CPU_NAMES),
                )
            )
    per_file = []
    for workers in workers_list:
        up, down = (
            small_medians(small, workers, "api_upload"),
            small_medians(small, workers, "api_download"),
        )
        per_file.append(
            f"{workers} thread(s): upload {up['cpu']['server'] / small['files'] * 1000:.0f} ms in the server "
            f"(+ {up['cpu']['worker'] / small['files'] * 1000:.0f} ms in the worker, "
            f"{up['cpu']['pg+redis'] / small['files'] * 1000:.0f} ms in PostgreSQL + Redis), download "
            f"{down['cpu']['server'] / small['files'] * 1000:.0f} ms in the server"
        )
    lines += ["", "CPU per file through the API: " + "; ".join(per_file) + "."]
    # Per-request split of the API flow (all repetitions).
    lines += [
        "",
        "API flow per file, client side (all repetitions):",
        "",
        "| threads | create p50 / p99 ms | PUT p50 / p99 ms | upload-ended p50 / p99 ms "
        "| download 302 p50 / p99 ms | presigned GET p50 / p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for workers in workers_list:
        runs = [run for run in small["runs"] if run["workers"] == workers]
        uploads = [t for run in runs for t in run["api_upload_timings"]]
        downloads = [t for run in runs for t in run["api_download_timings"]]
        cells = [_p50_p99([t[i] for t in uploads]) for i in range(3)]
        cells += [_p50_p99([t[i] for t in downloads]) for i in range(2)]
        lines.append(table_row(workers, *cells))
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
        (
            "upload, until the bytes are accepted (upload-ended answered)",
            raw_up,
            [u["ended"] for u in api_up],
        ),
        (
            "upload, until `ready` (worker's read-back + SHA-256 done)",
            raw_up,
            [u["ready"] for u in api_up],
        ),
        (
            "download, one stream (`get_object` / presigned GET)",
            [r["raw_download_stream"]["seconds"] for r in runs],
            [r["api_download_stream"]["seconds"] for r in runs],
        ),
        (
            "download, parallel ranges (`download_fileobj` / ranged presigned GETs)",
            [r["raw_download_parallel"]["seconds"] for r in runs],
            [r["api_download_parallel"]["seconds"] for r in runs],
        ),
    ]
    for label, raw, api in pairs:
        ratio = med(raw) / med(api)
        lines.append(table_row(label, cell(raw), cell(api), f"{ratio:.2f}", ratio_status(ratio)))
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
    lines += [
        "| process | " + " | ".join(phases) + " | peak - start |",
        "|---" * (len(phases) + 2) + "|",
    ]
    for name, label in (("server", "`suite serve`"), ("worker", "`suite worker` (process tree)")):
        cells = []
        for phase in phases:
            figures = rss[name]["phases"].get(phase)
            cells.append(
                f"{figures['min_kb'] / 1024:.0f}-{figures['max_kb'] / 1024:.0f}" if figures else ""
            )
        lines.append(
            table_row(
                label, *cells, f"{(rss[name]['peak_kb'] - rss[name]['start_kb']) / 1024:+.1f}"
            )
        )
    growth = {
        name: ", ".join(
            f"{(u['rss'][name]['peak_kb'] - u['rss'][name]['start_kb']) / 1024:+.1f}"
            for u in api_up
        )
        for name in ("server", "worker")
    }
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
        lines.append(
            table_row(
                f"{overhead[key]['size']:,} B",
                len(timings),
                _p50_p99([t[0] for t in timings]),
                _p50_p99([t[2] for t in timings]),
                _p50_p99(both),
                "met" if statistics.median(both) * 1000 <= TARGET_OVERHEAD_MS else "**missed**",
                _p50_p99([t[1] for t in timings]),
            )
        )
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
            lines.append(
                table_row(
                    label,
                    f"{figures['wall_ms_p50']:.1f}",
                    f"{figures['queries']:g}" + ("" if low == high else f" ({low}-{high})"),
                    f"{figures['sql_ms_p50']:.1f}",
                    f"{figures['profiled_ms_per_call']:.1f}",
                )
            )
        for endpoint, label in ENDPOINT_LABELS:
            if endpoint not in profile:
                continue
            figures = profile[endpoint]
            lines += [
                "",
                f"{label}: queries in order: "
                + ", ".join(f"`{s}`" for s in figures["shapes"])
                + ".",
                "",
                f"| {label}: function (cumulative, under cProfile) | ms per call | share | calls per request |",
                "|---|---|---|---|",
            ]
            total = figures["profiled_total_s"]
            for name, seconds, calls in figures["functions"]:
                if calls:
                    lines.append(
                        table_row(
                            name,
                            f"{seconds / profile['files'] * 1000:.2f}",
                            f"{seconds / total:.0%}",
                            f"{calls / profile['files']:g}",
                        )
                    )
            packages = figures.get("by_package", {})
            if packages:
                lines += [
                    "",
                    f"{label}: own time by package under cProfile: "
                    + ", ".join(
                        f"{name} {seconds / profile['files'] * 1000:.1f} ms ({seconds / total:.0%})"
                        for name, seconds in list(packages.items())[:8]
                    )
                    + ".",
                ]
            lines += [
                "",
                f"| {label}: most own time (cProfile `tottime`) | ms per call | share | calls per request |",
                "|---|---|---|---|",
            ]
            for name, seconds, calls in figures["top_own"]:
                lines.append(
                    table_row(
                        f"`{name}`",
                        f"{seconds / profile['files'] * 1000:.2f}",
                        f"{seconds / total:.0%}",
                        f"{calls / profile['files']:g}",
                    )
                )
    return lines + [""]


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [machine_line(results), ""]
    if "small" in results:
        lines += report_small(results["small"], args.workers)
    if "large" in results:
        lines += report_large(results["large"])
    if "overhead" in results:
        lines += report_overhead(results["overhead"])
    return "\n".join(lines)
