"""Where the time of the drive's upload endpoints goes, measured in this process (Django set
up against the bench's database and S3) with Django's test ``Client`` and a bearer token:
the full Django + ninja + PostgreSQL + S3 path without the HTTP server.

- SQL: the queries of one ``create`` and of one ``upload-ended`` (``CaptureQueriesContext``),
  their count and the time PostgreSQL took (as Django measures it around each execute).
- Functions: ``cProfile`` over the same calls, the cumulative time of the functions that
  matter (S3 HEAD, the read-back, SHA-256, the enqueue of the preview task, the access
  checks...), as a share of the endpoint's time (the profiler slows Python code more than
  I/O, so shares of I/O are underestimated).
- The read-back of a large object as the analysis does it (``BlobReader.iter_chunks``, 64
  KiB reads) against the same with 1 MiB reads, against SHA-256 alone on bytes in memory.
"""

from __future__ import annotations

import cProfile
import hashlib
import os
import pstats
import statistics
import time
from pathlib import Path
from typing import Any

import requests

API = "/api/v1/drive"
PROJECT_PACKAGES = ("suite", "drive_app", "bench")

# (endpoint, label, file suffix, function name): the functions whose cumulative time is
# reported for each endpoint; one function a line.
# fmt: off
PROFILED_FUNCTIONS = [
    ("create", "`file_create` (service, whole)", "uploads/start.py", "file_create"),
    ("create", "`parent_for` (access check of the parent)", "services/items/folders.py", "parent_for"),
    ("create", "`workspace_for`", "services/items/folders.py", "workspace_for"),
    ("create", "title conflict check (`_sibling_with_title`, `resolve_title`)", "services/items/titles.py", "resolve_title"),
    ("create", "`quota.check_room`", "drive_app/quota.py", "check_room"),
    ("create", "`new_child` (insert)", "services/items/folders.py", "new_child"),
    ("create", "presigned PUT signing", "s3/store.py", "presigned_put"),
    ("create", "`item_out` (serialization, abilities)", "schemas/items.py", "item_out"),
    ("create", "token authentication", "identity/auth.py", "authenticate"),
    ("ended", "`upload_ended` (service, whole)", "uploads/end.py", "upload_ended"),
    ("ended", "`editable_item` (access check with the answer's annotations)", "uploads/pending.py", "editable_item"),
    ("ended", "`end_upload`", "uploads/end.py", "end_upload"),
    ("ended", "of which the S3 GET of the first bytes (`_probe`)", "uploads/end.py", "_probe"),
    ("ended", "of which `quota.charge`", "drive_app/quota.py", "charge"),
    ("ended", "of which the verdict (type, checksum)", "uploads/analysis.py", "verdict"),
    ("ended", "of which `mark_ready`", "uploads/analysis.py", "mark_ready"),
    ("ended", "`analyze` (read back by a task or a retry)", "uploads/analysis.py", "analyze"),
    ("ended", "Celery enqueue (Redis)", "celery/app/task.py", "apply_async"),
    ("ended", "`item_out`", "schemas/items.py", "item_out"),
    ("download", "`download_url` (service, whole)", "uploads/versions.py", "download_url"),
    ("download", "`access_item`", "drive_app/permissions.py", "access_item"),
    ("download", "`item_visit` (recent list: upsert of a visit row)", "services/items/folders.py", "item_visit"),
    ("download", "presigned GET signing", "s3/store.py", "presigned_get"),
    ("download", "token authentication", "identity/auth.py", "authenticate"),
]
# fmt: on
ENDPOINTS = tuple(
    (endpoint, [row[1:] for row in PROFILED_FUNCTIONS if row[0] == endpoint])
    for endpoint in ("create", "ended", "download")
)


def _cumulative(stats: pstats.Stats, suffix: str, name: str) -> tuple[float, int]:
    """(cumulative seconds, primitive calls) of a function, summed over its definitions."""
    seconds, calls = 0.0, 0
    for (filename, _line, function), (
        primitive,
        _total,
        _tt,
        cumulative,
        _callers,
    ) in stats.stats.items():  # type: ignore[attr-defined]
        if function == name and filename.endswith(suffix):
            seconds += cumulative
            calls += primitive
    return seconds, calls


def _top_own(stats: pstats.Stats, count: int) -> list[tuple[str, float, int]]:
    """The functions with the most own time (``tottime``): (where, seconds, calls)."""
    rows = []
    for (filename, line, function), (
        _primitive,
        total_calls,
        own,
        _cumulative,
        _callers,
    ) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename
        for marker in ("site-packages/", "lib/python3.11/", "/main/"):
            if marker in filename:
                where = filename.split(marker, 1)[1]
                break
        rows.append((f"{where}:{line} {function}", own, total_calls))
    return sorted(rows, key=lambda row: -row[1])[:count]


def _by_package(stats: pstats.Stats) -> dict[str, float]:
    """Own time (``tottime``) summed by where the code lives: a third-party package, the
    project's top-level package, the standard library, or C built-ins (socket I/O, hashing,
    libmagic... called from any of them)."""
    totals: dict[str, float] = {}
    for (filename, _line, _function), (
        _primitive,
        _calls,
        own,
        _cumulative,
        _callers,
    ) in stats.stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in filename:
            package = filename.split("site-packages/", 1)[1].split("/", 1)[0]
        elif filename.startswith("~") or filename == "":
            package = "C built-ins"
        elif "/lib/python3" in filename:
            package = "standard library"
        else:
            parts = Path(filename).parts
            package = next((part for part in parts if part in PROJECT_PACKAGES), "other")
        totals[package] = totals.get(package, 0.0) + own
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def _shapes(queries: list[dict[str, Any]]) -> list[str]:
    """A short, readable shape of each query (its verb and first table)."""
    shapes = []
    for query in queries:
        sql = query["sql"]
        verb = sql.split(None, 1)[0].upper()
        table = ""
        for keyword in (" FROM ", "INTO ", "UPDATE "):
            index = sql.upper().find(keyword)
            if index >= 0:
                table = sql[index + len(keyword) :].split()[0].strip('"')
                break
        if verb == "SELECT" and "FOR UPDATE" in sql.upper():
            verb = "SELECT FOR UPDATE"
        shapes.append(f"{verb} {table}".strip())
    return shapes


def profile_small_uploads(token: str, files: list[bytes], parent: str | None) -> dict[str, Any]:
    """create + PUT + upload-ended + download redirect for each of ``files`` in this process:
    wall times without the profiler, query counts and shapes, then shares under cProfile (a
    second pass, one profiler per endpoint so that each one's shares are of its own time)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    s3 = requests.Session()

    def call(
        row: dict[str, Any],
        name: str,
        profilers: dict[str, cProfile.Profile] | None,
        send: Any,
        status: int,
    ) -> Any:
        connection.queries_log.clear()  # the log keeps 9,000 queries: never let it fill up
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            if profilers:
                profilers[name].enable()
            response = send()
            if profilers:
                profilers[name].disable()
            row[f"{name}_s"] = time.perf_counter() - started
        assert response.status_code == status, response.content
        row[f"{name}_queries"] = list(queries.captured_queries)
        return response

    def one(
        index: int, data: bytes, profilers: dict[str, cProfile.Profile] | None
    ) -> dict[str, Any]:
        row: dict[str, Any] = {}
        payload = {
            "type": "file",
            "title": f"profile-{index}-{time.monotonic_ns()}.bin",
            "parent": parent,
            "size": len(data),
        }
        item = call(
            row,
            "create",
            profilers,
            lambda: client.post(f"{API}/items/", payload, content_type="application/json"),
            201,
        ).json()
        upload = item["upload"]
        s3.request(
            upload["method"], upload["url"], data=data, headers=upload["headers"], timeout=60
        ).raise_for_status()
        ended = call(
            row,
            "ended",
            profilers,
            lambda: client.post(
                f"{API}/items/{item['id']}/upload-ended/", {}, content_type="application/json"
            ),
            200,
        )
        assert ended.json()["upload_state"] == "ready", ended.content
        call(
            row,
            "download",
            profilers,
            lambda: client.get(f"{API}/items/{item['id']}/download/"),
            302,
        )
        return row

    for index in range(3):  # warm-up: connections, caches, first-call imports
        one(-index - 1, files[index % len(files)], None)
    plain = [one(index, data, None) for index, data in enumerate(files)]
    profilers = {name: cProfile.Profile() for name, _functions in ENDPOINTS}
    profiled = [one(index + len(files), data, profilers) for index, data in enumerate(files)]
    s3.close()

    def sql_ms(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.median(sum(float(q["time"]) for q in row[key]) * 1000 for row in rows)

    result: dict[str, Any] = {"files": len(files), "size": len(files[0])}
    for endpoint, functions in ENDPOINTS:
        counts = [len(row[f"{endpoint}_queries"]) for row in plain]
        stats = pstats.Stats(profilers[endpoint])
        total = sum(row[f"{endpoint}_s"] for row in profiled)
        result[endpoint] = {
            "wall_ms_p50": statistics.median(row[f"{endpoint}_s"] for row in plain) * 1000,
            "queries": statistics.median(counts),
            "queries_min_max": (min(counts), max(counts)),
            "sql_ms_p50": sql_ms(plain, f"{endpoint}_queries"),
            "shapes": _shapes(plain[-1][f"{endpoint}_queries"]),
            "profiled_ms_per_call": total / len(profiled) * 1000,
            "functions": [
                (label, *_cumulative(stats, suffix, name)) for label, suffix, name in functions
            ],
            "profiled_total_s": total,
            "top_own": _top_own(stats, 12),
            "by_package": _by_package(stats),
        }
    return result


def read_back(key: str, size: int, repeat: int = 3) -> dict[str, float]:
    """Seconds to read ``key`` back as ``analyze`` does (64 KiB reads + SHA-256), to read it
    without hashing, the same with 1 MiB reads, and to hash ``size`` bytes already in memory:
    the best of ``repeat`` rounds, the modes interleaved in each round (the machine is shared:
    the best time is the one least disturbed)."""
    from suite.storage import get_blob_store

    store = get_blob_store()

    def timed(chunk: int, hashing: bool) -> float:
        digest = hashlib.sha256()
        started = time.perf_counter()
        got = 0
        with store.open(key) as reader:
            for piece in reader.iter_chunks(chunk):
                got += len(piece)
                if hashing:
                    digest.update(piece)
        assert got == size, (got, size)
        return time.perf_counter() - started

    block = os.urandom(64 * 1024 * 1024)
    blocks = max(1, size // len(block))

    def hash_only() -> float:
        digest = hashlib.sha256()
        started = time.perf_counter()
        for _ in range(blocks):
            digest.update(block)
        return (time.perf_counter() - started) * size / (blocks * len(block))

    modes = {
        "read_hash_64k": lambda: timed(64 * 1024, True),
        "read_only_64k": lambda: timed(64 * 1024, False),
        "read_hash_1m": lambda: timed(1024 * 1024, True),
        "read_only_1m": lambda: timed(1024 * 1024, False),
        "hash_only": hash_only,
    }
    best = dict.fromkeys(modes, float("inf"))
    for _round in range(repeat):
        for name, measure in modes.items():
            best[name] = min(best[name], measure())
    return best


def analysis_seconds(item_id: str) -> dict[str, Any]:
    """What the database says about a version's analysis: upload-ended's commit
    (``uploaded_at``) to ``ready`` (the item's ``updated_at``, set by ``_finish_ready``)."""
    from drive_app.models import FileVersion, Item

    item = Item.objects.get(pk=item_id)
    version = FileVersion.objects.filter(item=item).order_by("-number").first()
    assert version is not None and version.uploaded_at is not None
    return {
        "analysis_s": (item.updated_at - version.uploaded_at).total_seconds(),
        "key": version.key,
        "sha256": version.sha256,
        "state": version.state,
    }
