"""The client flows of bench/drive_dav.py, the same for both servers: bodies made as they
are sent, the large file (PUT then GET, the server's RSS sampled during the PUT), many small
files (sequential or from worker threads), and the engine floor (SeaweedFS alone through
boto3 with the blob store's settings)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from drive_dav_servers import Target
from processes import CpuWindow, RssSampler, process_tree, reset_peak, status_kb
from reporting import MB, MIB, summary

BUCKET = "communs-bench-dav"


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


def peak_memory(rss: dict[str, Any]) -> dict[str, Any]:
    """RSS at the start, peak and end of a sampled window, in MiB."""
    return {
        "start_mib": rss["start_kb"] / 1024,
        "peak_mib": rss["peak_kb"] / 1024,
        "end_mib": rss["end_kb"] / 1024,
        "growth_mib": (rss["peak_kb"] - rss["start_kb"]) / 1024,
        "samples": rss["samples"],
    }


def large_file(
    target: Target,
    path: str,
    size: int,
    block: bytes,
    breakdown: Callable[[float, float], Any],
    around: Around = lambda _phase: contextlib.nullcontext(),
) -> dict[str, Any]:
    """PUT then GET one ``size``-byte file; the server's RSS sampled during the PUT.
    ``around("put")`` and ``around("get")`` wrap each request (a profiler)."""
    pid = target.server.pid
    hwm_reset = reset_peak(pid)
    hwm_before = status_kb(pid, "VmHWM")
    sampler = RssSampler({"server": lambda: process_tree(pid)}, interval=0.05).start()
    with target.client() as client:
        with around("put"), CpuWindow(target.cpu_groups()) as put_cpu:
            wall_started = time.time()
            started = time.perf_counter()
            response = client.put(
                target.url(path),
                content=generated_body(size, block),
                headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
            )
            put_seconds = time.perf_counter() - started
            wall_ended = time.time()
        sampler.stop()
        memory = peak_memory(sampler.summary()["server"])
        expect(response, 201, 204)
        memory["hwm_mib"] = status_kb(pid, "VmHWM") / 1024 if hwm_reset else None
        memory["hwm_growth_mib"] = (
            (status_kb(pid, "VmHWM") - hwm_before) / 1024 if hwm_reset else None
        )
        with (
            open(os.devnull, "wb") as sink,
            around("get"),
            CpuWindow(target.cpu_groups()) as get_cpu,
        ):
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


def small_files(
    target: Target,
    folder: str,
    payloads: list[bytes],
    workers: int,
    around: Around = lambda _phase: contextlib.nullcontext(),
) -> dict[str, Any]:
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
            target.url(name(index)),
            content=payloads[index],
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
    results: dict[str, Any] = {
        "files": len(payloads),
        "file_bytes": len(payloads[0]),
        "workers": workers,
    }
    indexes = range(len(payloads))
    with ThreadPoolExecutor(workers) as pool:
        for phase, operation in (("put", put), ("get", get)):
            pool.submit(client).result()  # connections are not part of the measure
            connections_before = target.redis_connections()
            with around(phase), CpuWindow(target.cpu_groups()) as cpu:
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
                "latency_ms": {
                    k: v * 1000 if k != "n" else v for k, v in summary(latencies).items()
                },
                "cpu": cpu.percent,
                "redis_connections": None
                if connections_before is None
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
        "s3",
        endpoint_url=s3["S3_ENDPOINT_URL"],
        aws_access_key_id=s3["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=s3["S3_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=32
        ),
    )
    config = TransferConfig(
        multipart_threshold=8 * MIB,
        multipart_chunksize=8 * MIB,
        max_concurrency=4,
        use_threads=True,
        preferred_transfer_client="classic",
    )
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
