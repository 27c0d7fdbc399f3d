"""Where our server's time goes, for bench/drive_dav.py: ``py-spy`` recordings of it read
back (the request threads' wall time by step and by resource, or its CPU by thread,
resource and function), and the DAV WSGI application called in this process for one small
PUT and its GET (SQL statements by kind, commits, S3 requests)."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from environment import HOST, setup_django


class PySpy:
    """``py-spy record`` of one process while a block runs, as collapsed stacks per thread:
    with ``idle``, waiting threads too (a request thread's samples add up to its wall
    time); without, only threads on a CPU."""

    def __init__(self, binary: str, pid: int, output: Path, *, idle: bool):
        self.binary, self.pid, self.output, self.idle = binary, pid, output, idle
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PySpy:
        self.process = subprocess.Popen(
            [
                self.binary,
                "record",
                "--pid",
                str(self.pid),
                "--format",
                "raw",
                "--rate",
                "250",
                "--threads",
                *(["--idle"] if self.idle else []),
                "--nonblocking",
                "--output",
                str(self.output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)  # py-spy attaches
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        self.process.wait(60)


#: What a request thread is doing, by the innermost of these frames in its stack.
STEPS = (
    ("authenticate (drive_app/dav/auth.py", "Basic auth (app password lookup)"),
    ("FailureLimiter.", "Basic auth (failure counters in Redis)"),
    ("DavLockStorage.", "lock checks (PostgreSQL)"),
    ("Body.read (a2wsgi/wsgi.py", "waiting for request body chunks (a2wsgi <- event loop)"),
    ("WSGIResponder.send (a2wsgi/wsgi.py", "handing response chunks to the event loop (a2wsgi)"),
    ("analyze (drive_app/services/uploads/analysis.py", "read-back from S3 for the scanner (analyze)"),
    ("mark_ready (drive_app/services/uploads/analysis.py", "marking the version ready"),
    ("S3BlobStore.put (suite/storage/s3/store.py", "body to S3 (store.put: s3transfer)"),
    ("end_upload (drive_app/services/uploads/end.py", "end_upload (quota, verdict, rows)"),
    ("_Tap.read (drive_app/services/uploads/end.py", "hashing the body as it streams"),
    ("file_write (drive_app/services/uploads/end.py", "file_write (lookups, version row)"),
    ("S3BlobStore.open (suite/storage/s3/store.py", "opening the S3 object (GET request)"),
    ("BlobRangeReader.read (drive_app/dav/streams.py", "reading the body from S3"),
    ("child_named (drive_app/dav/namespace.py", "path -> item: child_named, one per segment"),
    ("DriveDavProvider.get_resource_inst", "path -> item (workspace, shared entries)"),
)
#: What it waits on or runs, by the innermost frame of a known package.
RESOURCES = (
    ("psycopg", "PostgreSQL (psycopg: send, wait for the server)"),
    ("django/db/", "Django ORM (building queries, rows)"),
    (("botocore/", "s3transfer/", "boto3/", "urllib3/"), "S3 client (botocore, s3transfer; waits)"),
    (("redis/", "django_redis/", "django/core/cache/"), "Redis (cache)"),
    ("magic/", "libmagic"),
    ("a2wsgi/", "a2wsgi (thread <-> event loop)"),
    ("wsgidav/", "WsgiDAV"),
    (("drive_app/", "suite/"), "our code"),
    ("django/", "Django (other)"),
)


def frame_file(frame: str) -> str:
    """``"name (path/file.py:12)"`` -> ``"path/file.py"``."""
    return frame.rpartition(" (")[2].rpartition(":")[0]


def collapsed_stacks(path: Path) -> Iterator[tuple[list[str], int]]:
    """(frames, count) of each line of py-spy's raw output; a line it garbled (sampling
    without stopping the process can read a half-written frame) is skipped."""
    for line in path.read_text(errors="replace").splitlines():
        stack, _sep, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            yield stack.split(";"), int(count_text)


def resource_of(inner: list[str], other: str) -> str:
    """The :data:`RESOURCES` label of the innermost frame (first of ``inner``) in one of its
    packages, else ``other``."""
    files = [frame_file(frame) for frame in inner]
    return next(
        (label for file in files for prefixes, label in RESOURCES if file.startswith(prefixes)),
        other,
    )


def shares(
    counts: collections.Counter[str], total: int, limit: int = 20
) -> list[tuple[str, float]]:
    """The ``limit`` most common entries, each in % of ``total`` samples."""
    return [(name, round(100 * n / max(total, 1), 1)) for name, n in counts.most_common(limit)]


def request_breakdown(path: Path, top: int = 12) -> dict[str, Any]:
    """Where the request threads (a2wsgi's ``WSGI_*``) spent their wall time: samples of a
    thread serving a request, by step (innermost of :data:`STEPS`) and by resource
    (innermost frame of a package of :data:`RESOURCES`), and the functions found in most
    of them (ours only); in % of those samples."""
    steps: collections.Counter[str] = collections.Counter()
    resources: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for frames, count in collapsed_stacks(path):
        if not frames[0].partition(": ")[2].startswith("WSGI_") or not any(
            frame.startswith("WSGIResponder.wsgi ") for frame in frames
        ):
            continue
        total += count
        inner = frames[:0:-1]  # innermost first, without the thread
        step = (label for frame in inner for marker, label in STEPS if frame.startswith(marker))
        steps[next(step, "other (middlewares, WsgiDAV)")] += count
        resources[resource_of(inner, "other (stdlib)")] += count
        for function in {frame.rpartition(":")[0] + ")" for frame in inner}:
            ours = " (drive_app/" in function or " (suite/" in function
            if ours and ".__call__ " not in function:
                inclusive[function] += count
    return {
        "samples": total,
        "steps": shares(steps, total),
        "resources": shares(resources, total),
        "functions": shares(inclusive, total, top),
    }


#: Thread names (without their number) of the server, as the CPU breakdown reports them.
THREAD_KINDS = {
    "WSGI": "request threads (a2wsgi)",
    "MainThread": "event loop (uvicorn)",
    "ThreadPoolExecutor": "s3transfer workers",
}


def cpu_breakdown(path: Path, top: int = 12) -> dict[str, Any]:
    """Where the server's CPU went (samples of threads on a CPU, all threads): by thread
    kind, by resource (innermost frame of a package of :data:`RESOURCES`), and the
    innermost Python functions; in % of those samples."""
    threads: collections.Counter[str] = collections.Counter()
    resources: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for frames, count in collapsed_stacks(path):
        total += count
        thread = frames[0].partition(": ")[2].rstrip("0123456789_-")
        threads[THREAD_KINDS.get(thread, thread or "?")] += count
        inner = frames[:0:-1]
        resources[resource_of(inner, "other (stdlib, event loop)")] += count
        leaves[inner[0].rpartition(":")[0] + ")" if inner else "?"] += count
    return {
        "samples": total,
        "threads": shares(threads, total),
        "resources": shares(resources, total),
        "leaves": shares(leaves, total, top),
    }


def statement_kinds(statements: Iterable[str]) -> list[tuple[str, int]]:
    """SQL statements counted by verb and first table (``SELECT drive_app_item``)."""
    kinds: collections.Counter[str] = collections.Counter()
    for sql in statements:
        verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
        # The statement's own table: subqueries name theirs with an alias (``_ca``).
        table = re.search(
            r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?(?![\w"])(?!\s+_)', sql, re.IGNORECASE
        )
        kind = (
            f"{verb} {table[1]}"
            if table and verb in ("SELECT", "INSERT", "UPDATE", "DELETE")
            else verb
        )
        kinds[kind + (" with roles" if "effective_role" in sql else "")] += 1
    return kinds.most_common()


def count_in_process(env: dict[str, str], auth: tuple[str, str], payload: bytes) -> dict[str, Any]:
    """The DAV WSGI application called in this process (no HTTP, no a2wsgi) for one small
    PUT and its GET: SQL statements, commits and S3 requests of each, and their time."""
    import base64
    import io

    os.environ.update({key: value for key, value in env.items() if key != "SUITE_PUBLIC_URL"})
    setup_django(migrate=False)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from drive_app.dav.app import build_wsgi_application
    from suite.storage import get_blob_store

    application = build_wsgi_application()
    commits, s3_requests = [0], []
    original_commit = connection._commit

    def counting_commit() -> None:
        commits[0] += 1
        original_commit()

    connection._commit = counting_commit
    store = get_blob_store()
    store.client.meta.events.register(
        "before-send.s3", lambda request, **_: s3_requests.append(request.method)
    )
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()

    def call(method: str, path: str, body: bytes = b"") -> dict[str, Any]:
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "/dav",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": HOST,
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": HOST,
            "HTTP_HOST": HOST,
            "HTTP_AUTHORIZATION": f"Basic {token}",
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/octet-stream",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        commits[0], s3_requests[:] = 0, []
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            iterable = application(
                environ, lambda line, headers, exc_info=None: status.append(line)
            )
            length = sum(len(chunk) for chunk in iterable)
            seconds = time.perf_counter() - started
        return {
            "status": status[0],
            "length": length,
            "ms": seconds * 1000,
            "queries": len(queries),
            "query_ms": sum(float(q["time"]) for q in queries) * 1000,
            "statements": statement_kinds(query["sql"] for query in queries),
            "commits": commits[0],
            "s3_requests": list(s3_requests),
        }

    call("MKCOL", "/counted/")
    results = {}
    for number in range(3):  # the last of three: warm caches, as in a sync
        results["put"] = call("PUT", f"/counted/file-{number}.bin", payload)
        results["get"] = call("GET", f"/counted/file-{number}.bin")
    if not (
        results["put"]["status"].startswith("201") and results["get"]["status"].startswith("200")
    ):
        raise RuntimeError(f"in-process DAV calls failed: {results}")
    return results
