"""The Markdown report of bench/drive_dav.py (medians of the rounds, ours against the
reference), and what it says about the run: the machine, the commit, the load."""

from __future__ import annotations

import collections
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from reporting import MB, MIB, cpu_model

TARGET_RATIO = 0.8
FLAT_GROWTH_MIB = 100  # "flat": the peak grows by tens of MiB, not by the file's size


def median_of(rounds: list[dict[str, Any]], *path: str) -> float:
    values = []
    for result in rounds:
        value: Any = result
        for part in path:
            value = value[part]
        values.append(value)
    return statistics.median(values)


def cpu_cell(windows: list[dict[str, float]]) -> str:
    """Median CPU % of the server (+ SeaweedFS for ours) / the client, over rounds."""
    server = statistics.median(w["server"] for w in windows)
    client = statistics.median(w["client"] for w in windows)
    if "s3" in windows[0]:
        return f"{server:.0f} + {statistics.median(w['s3'] for w in windows):.0f} / {client:.0f}"
    return f"{server:.0f} / {client:.0f}"


def verdict(ratio: float) -> str:
    return f"**{'met' if ratio >= TARGET_RATIO else 'missed'}**"


def report(results: dict[str, Any]) -> str:
    ours, reference = results["rounds"]["suite"], results["rounds"]["rclone"]
    size_mib = results["size"] // MIB
    lines = [
        f"Machine: {results['machine']}. Load average before: {results['load_before']}, "
        f"after: {results['load_after']}. Rounds: {len(ours)} (medians below). Commit "
        f"{results['commit']}; {results['rclone']}.",
        "",
        "| measure | ours (`suite serve`) | reference (`rclone serve webdav`) | ours / reference | "
        f">= {TARGET_RATIO}x |",
        "|---|---|---|---|---|",
    ]

    def row(label: str, unit: str, *path: str) -> None:
        mine = median_of([r[path[0]] for r in ours], *path[1:])
        theirs = median_of([r[path[0]] for r in reference], *path[1:])
        ratio = mine / theirs
        lines.append(
            f"| {label} | {mine:.1f} {unit} | {theirs:.1f} {unit} | {ratio:.2f} | "
            f"{verdict(ratio)} |"
        )

    row(f"PUT {size_mib} MiB", "MB/s", "large", "put_mb_s")
    row(f"GET {size_mib} MiB", "MB/s", "large", "get_mb_s")
    files, kib = results["files"], results["file_bytes"] // 1024
    for key, label in (("sequential", "sequential"), ("parallel", f"{results['workers']} workers")):
        row(f"PUT {files:,} x {kib} KiB, {label}", "files/s", key, "put", "files_s")
        row(f"GET {files:,} x {kib} KiB, {label}", "files/s", key, "get", "files_s")

    lines += [
        "",
        "Latency per small file (median of the rounds' p50 / p99, ms) and CPU "
        "(% of one core: server / client; ours: server + SeaweedFS / client):",
        "",
        "| measure | ours p50 | ours p99 | reference p50 | reference p99 | ours CPU | "
        "reference CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in (("sequential", "sequential"), ("parallel", f"{results['workers']} workers")):
        for phase in ("put", "get"):
            cells = []
            for side in (ours, reference):
                cells += [
                    f"{median_of([r[key] for r in side], phase, 'latency_ms', q):.1f}"
                    for q in ("p50", "p99")
                ]
            cpus = [cpu_cell([r[key][phase]["cpu"] for r in side]) for side in (ours, reference)]
            lines.append(f"| {phase.upper()} {label} | " + " | ".join(cells + cpus) + " |")
    opened = [
        r[key][phase]["redis_connections"]
        for r in ours
        for key in ("sequential", "parallel")
        for phase in ("put", "get")
    ]
    if None not in opened:
        per_request = sum(opened) / (len(opened) * files)  # type: ignore[arg-type]
        lines += [
            "",
            f"Redis connections opened by our server per small-file request: "
            f"{per_request:.2f} (Redis's `total_connections_received`, all clients).",
        ]
    lines.append("")
    for phase in ("put", "get"):
        cpus = [cpu_cell([r["large"][f"{phase}_cpu"] for r in side]) for side in (ours, reference)]
        lines.append(
            f"CPU during the large {phase.upper()} (% of one core, server / client; "
            f"ours: server + SeaweedFS / client): ours {cpus[0]}, reference {cpus[1]}."
        )

    lines += [
        "",
        f"Server RSS during each {size_mib} MiB PUT (sampled every 50 ms; VmHWM is the "
        "kernel's peak, reset before the PUT):",
        "",
        "| server | round | start MiB | peak MiB | end MiB | peak growth MiB | VmHWM MiB | "
        "samples | flat |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for side, rounds in (("ours", ours), ("reference", reference)):
        for number, result in enumerate(rounds, start=1):
            memory = result["large"]["memory"]
            hwm = f"{memory['hwm_mib']:.0f}" if memory["hwm_mib"] is not None else "n/a"
            flat = max(memory["growth_mib"], memory["hwm_growth_mib"] or 0) < FLAT_GROWTH_MIB
            lines.append(
                f"| {side} | {number} | {memory['start_mib']:.0f} | {memory['peak_mib']:.0f} | "
                f"{memory['end_mib']:.0f} | {memory['growth_mib']:.0f} | {hwm} | "
                f"{memory['samples']} | {'**yes**' if flat else '**no**'} |"
            )
    breakdowns = [r["large"]["breakdown"] for r in ours if r["large"]["breakdown"]]
    if breakdowns:
        parts = {name: statistics.median(b[name] for b in breakdowns) for name in breakdowns[0]}
        total = sum(parts.values())
        size = results["size"]
        lines += [
            "",
            f"Our {size_mib} MiB PUT, split by the version's timestamps (median): before the "
            f"body {parts['before_body']:.2f} s, streaming to S3 {parts['to_s3']:.2f} s "
            f"({size / parts['to_s3'] / MB:.0f} MB/s), SHA-256 + type read-back "
            f"{parts['read_back']:.2f} s ({size / parts['read_back'] / MB:.0f} MB/s), after "
            f"{parts['after']:.2f} s; {total:.2f} s in all.",
        ]
    floor = results.get("floor")
    if floor:
        lines += [
            "",
            f"Engine floor, SeaweedFS alone through boto3 from the client process: PUT "
            f"{floor['put_mb_s']:.0f} MB/s (8 MiB parts, 4 in flight), GET "
            f"{floor['get_mb_s']:.0f} MB/s, GET + SHA-256 {floor['read_back_mb_s']:.0f} MB/s "
            f"(SHA-256 alone {floor['sha256_mb_s']:.0f} MB/s); {files:,} x {kib} KiB one after "
            f"the other: PUT {floor['small_put_files_s']:.0f} files/s, GET "
            f"{floor['small_get_files_s']:.0f} files/s.",
        ]
    counts = results.get("counts")
    if counts:
        for method in ("put", "get"):
            count = counts[method]
            requests_made = collections.Counter(count["s3_requests"])
            lines.append(
                f"{'' if method == 'get' else chr(10)}In process (the WSGI application called "
                f"directly, no HTTP), one {kib} KiB {method.upper()}: {count['ms']:.1f} ms, "
                f"{count['queries']} SQL statements ({count['query_ms']:.1f} ms), "
                f"{count['commits']} commits, {len(count['s3_requests'])} S3 requests ("
                + ", ".join(f"{n} {verb}" for verb, n in requests_made.items())
                + "); statements: "
                + ", ".join(f"{kind} x{n}" for kind, n in count["statements"])
                + "."
            )
    for name, profile in results.get("profile", {}).items():
        if "leaves" in profile:
            lines += [
                "",
                f"py-spy on our server, {name}: where its CPU goes ({profile['samples']} "
                "samples of threads on a CPU, at 250 Hz): by thread "
                + ", ".join(f"{n} {p}%" for n, p in profile["threads"][:5])
                + "; by resource "
                + ", ".join(f"{n} {p}%" for n, p in profile["resources"][:8])
                + "; innermost functions "
                + "; ".join(f"`{n}` {p}%" for n, p in profile["leaves"][:8])
                + ".",
            ]
            continue
        lines += [
            "",
            f"py-spy on our server, {name}: where the request threads' wall time "
            f"goes ({profile['samples']} samples at 250 Hz, idle included):",
            "",
            "| step | % | resource | % |",
            "|---|---|---|---|",
        ]
        steps, resources = profile["steps"], profile["resources"]
        for index in range(max(len(steps), len(resources))):
            left = steps[index] if index < len(steps) else ("", "")
            right = resources[index] if index < len(resources) else ("", "")
            lines.append(f"| {left[0]} | {left[1]} | {right[0]} | {right[1]} |")
        lines += [
            "",
            "Our functions in most of those samples (inclusive): "
            + "; ".join(f"`{name}` {percent}%" for name, percent in profile["functions"][:10])
            + ".",
        ]
    return "\n".join(lines)


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {cpu_model('unknown CPU')}, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )


def source_version() -> str:
    """The commit the servers ran, and whether files outside bench/ differed from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout.strip()

    changed = [
        line
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if not line[3:].startswith("bench/")
    ]
    return git("rev-parse", "--short", "HEAD") + (
        f" + {len(changed)} changed files" if changed else ""
    )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
