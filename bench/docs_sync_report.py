"""The Markdown report of bench/docs_sync.py (one section per part, each with its targets),
and the machine line it starts with."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from typing import Any

from reporting import cpu_model, machine_line, postgresql_version, table_row


def machine() -> str:
    """The machine and the versions of what runs (Django set up)."""
    pg = postgresql_version()
    import pycrdt

    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{os.cpu_count()} cores {cpu_model()}, Python {platform.python_version()}, pycrdt "
        f"{pycrdt.__version__}, PostgreSQL {pg.split()[0]}, Node {node}, "
        f"{time.strftime('%Y-%m-%d')}"
    )


def status(value: float, target: float) -> str:
    return "met" if value <= target else "**missed**"


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
        (
            "**end to end**, connect to SyncStep2, browser-like client, default server",
            e2e["deflate"],
        ),
        ("**end to end**, connect to SyncStep2, client offers no compression", e2e["plain"]),
        ("end to end, browser-like client, `WS_PER_MESSAGE_DEFLATE=true`", compressing["deflate"]),
        ("end to end: websocket handshake (ticket, access check, accept)", e2e["handshake"]),
        ("platform floor: `/ws/events/` connect to `session.ready`", e2e["events_floor"]),
        (
            "end to end: SyncStep1 to SyncStep2, browser-like, default",
            e2e["step1_to_step2_deflate"],
        ),
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
    lines = [machine_line(results, f" Trace: {results['trace']}."), ""]
    if "storage" in results:
        lines += report_cold_load(results)
    if "compaction" in results:
        lines += report_compaction(results)
    if "clients" in results:
        lines += report_clients(results, args)
    if "memory" in results:
        lines += report_memory(results)
    return "\n".join(lines)
