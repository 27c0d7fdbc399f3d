"""What the bench reports share: units, percentiles, Markdown table rows, the machine they
ran on, and progress lines (on stderr, so that stdout holds the report alone)."""

from __future__ import annotations

import contextlib
import statistics
import sys
from pathlib import Path
from typing import Any

MB = 1_000_000
MIB = 1024 * 1024


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p99": percentile(values, 0.99), "n": len(values)}


def table_row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def cpu_model(unknown: str = "?") -> str:
    """The CPU's model name from /proc/cpuinfo (``unknown`` where it says none)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return unknown


def postgresql_version() -> str:
    """``SHOW server_version`` through Django's connection (Django set up)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
    return version


def machine_line(results: dict[str, Any], more: str = "") -> str:
    """The report's first line: the machine and the load average before and after."""
    return (
        f"Machine: {results['machine']}. Load average {results['load'][0]:.1f} at the start, "
        f"{results['load'][1]:.1f} at the end.{more}"
    )
