"""Client side of bench/drive.py: the drive API flow (create, presigned PUT or multipart part
PUTs, upload-ended, download redirect) and the raw boto3 calls it is compared with, run by
a pool of threads with keep-alive connections on both sides (what the server and the engines
did meanwhile is read by the samplers of ``processes.py``).

Fairness: the API side uses one ``requests.Session`` per thread for the API and another for
S3 (a presigned URL must not carry the API's ``Authorization`` header); the raw side uses
one boto3 client (thread-safe, its own urllib3 pool, keep-alive) configured as the suite's
store is (SigV4, path style, checksums only where S3 requires them). Both sides send the
same in-memory bytes and discard what they download.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from reporting import MIB

API = "/api/v1/drive"
READ_CHUNK = MIB  # what clients read per call when streaming a download to nowhere


class FlowError(RuntimeError):
    """A request of the measured flow did not answer what the flow expects."""


def _check(response: requests.Response, status: int, what: str) -> requests.Response:
    if response.status_code != status:
        raise FlowError(
            f"{what}: HTTP {response.status_code} (expected {status}): {response.text[:500]}"
        )
    return response


# --- the drive API ------------------------------------------------------------------------------


class DriveApi:
    """The drive API of one server, as one user (bearer token), from many threads: each
    thread keeps its own keep-alive session to the API and another to S3."""

    def __init__(self, base: str, token: str):
        self.base = base.rstrip("/") + API
        self.token = token
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self, name: str, headers: dict[str, str]) -> requests.Session:
        session = getattr(self._local, name, None)
        if session is None:
            session = requests.Session()
            session.headers.update(headers)
            setattr(self._local, name, session)
            with self._lock:
                self._sessions.append(session)
        return session

    def api(self) -> requests.Session:
        return self._session("api", {"Authorization": f"Bearer {self.token}"})

    def s3(self) -> requests.Session:
        """For presigned URLs: no API credentials (S3 refuses two authentication methods)."""
        return self._session("s3", {})

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def folder(self, title: str) -> str:
        response = self.api().post(
            f"{self.base}/items/",
            json={"type": "folder", "title": title, "on_conflict": "rename"},
            timeout=60,
        )
        return _check(response, 201, "create folder").json()["id"]

    def create_file(
        self, title: str, size: int, parent: str | None, sha256: str | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"type": "file", "title": title, "parent": parent, "size": size}
        if sha256:
            payload["sha256"] = sha256
        return _check(
            self.api().post(f"{self.base}/items/", json=payload, timeout=60), 201, "create file"
        ).json()

    def put(
        self, request: dict[str, Any], data: bytes | memoryview, *, what: str = "presigned PUT"
    ) -> str:
        response = self.s3().request(
            request["method"], request["url"], data=data, headers=request["headers"], timeout=600
        )
        return _check(response, 200, what).headers.get("ETag", "")

    def part_urls(self, item_id: str, numbers: list[int]) -> dict[int, dict[str, Any]]:
        urls: dict[int, dict[str, Any]] = {}
        for start in range(0, len(numbers), 1000):  # the API gives at most 1000 at a time
            response = self.api().post(
                f"{self.base}/items/{item_id}/multipart/parts/",
                json={"parts": numbers[start : start + 1000]},
                timeout=60,
            )
            urls.update(
                {entry["number"]: entry for entry in _check(response, 200, "part URLs").json()}
            )
        return urls

    def upload_ended(self, item_id: str) -> dict[str, Any]:
        response = self.api().post(
            f"{self.base}/items/{item_id}/upload-ended/", json={}, timeout=600
        )
        return _check(response, 200, "upload-ended").json()

    def download_location(self, item_id: str) -> str:
        response = self.api().get(
            f"{self.base}/items/{item_id}/download/", allow_redirects=False, timeout=60
        )
        return _check(response, 302, "download").headers["Location"]

    def get_to_nowhere(
        self, url: str, *, headers: dict[str, str] | None = None, status: int = 200
    ) -> int:
        """GET a presigned URL, reading the body in 1 MiB chunks and dropping them."""
        with self.s3().get(url, headers=headers, stream=True, timeout=600) as response:
            _check(response, status, "presigned GET")
            return sum(len(chunk) for chunk in response.iter_content(READ_CHUNK))


@dataclass
class UploadTiming:
    """Client-side wall times of one small upload through the API (seconds)."""

    item_id: str
    create: float
    put: float
    ended: float


def api_upload(api: DriveApi, title: str, data: bytes, parent: str | None) -> UploadTiming:
    """create + PUT to the presigned URL + upload-ended; the item must end ``ready``."""
    started = time.perf_counter()
    item = api.create_file(title, len(data), parent)
    created = time.perf_counter()
    if item.get("upload") is None:
        raise FlowError(f"{title}: expected a single presigned PUT, got {item.get('multipart')}")
    api.put(item["upload"], data)
    put = time.perf_counter()
    ended = api.upload_ended(item["id"])
    done = time.perf_counter()
    if ended["upload_state"] != "ready" or ended["size"] != len(data):
        raise FlowError(f"{title}: upload ended {ended['upload_state']} with size {ended['size']}")
    return UploadTiming(item["id"], created - started, put - created, done - put)


def api_download(api: DriveApi, item_id: str, size: int) -> tuple[float, float]:
    """The API's 302, then the presigned GET: (redirect seconds, GET seconds)."""
    started = time.perf_counter()
    location = api.download_location(item_id)
    redirected = time.perf_counter()
    got = api.get_to_nowhere(location)
    if got != size:
        raise FlowError(f"downloaded {got} bytes, expected {size}")
    return redirected - started, time.perf_counter() - redirected


# --- raw S3 ----------------------------------------------------------------------------------------


def raw_client(s3: dict[str, str], *, pool: int = 32) -> Any:
    """boto3 configured as ``suite.storage.s3`` configures its own client."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        max_pool_connections=pool,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 1, "mode": "standard"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3["S3_ENDPOINT_URL"],
        aws_access_key_id=s3["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=s3["S3_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=config,
    )


def raw_put(client: Any, bucket: str, key: str, data: bytes) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=data)


def raw_get(client: Any, bucket: str, key: str, size: int) -> None:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    got = 0
    while chunk := body.read(READ_CHUNK):
        got += len(chunk)
    if got != size:
        raise FlowError(f"raw GET of {key}: {got} bytes, expected {size}")


def raw_delete_prefix(client: Any, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix`` (not timed: between runs, and at the end)."""
    deleted = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def transfer_config(part_size: int, workers: int) -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=part_size,
        multipart_chunksize=part_size,
        max_concurrency=workers,
        use_threads=True,
        preferred_transfer_client="classic",
    )


def raw_multipart_upload(
    client: Any, bucket: str, key: str, data: bytes, part_size: int, workers: int
) -> float:
    """boto3's own multipart upload (s3transfer) with the API's part size and concurrency."""
    started = time.perf_counter()
    client.upload_fileobj(io.BytesIO(data), bucket, key, Config=transfer_config(part_size, workers))
    return time.perf_counter() - started


def raw_large_download(
    client: Any, bucket: str, key: str, size: int, part_size: int, workers: int, *, parallel: bool
) -> float:
    """``download_fileobj`` (parallel ranged GETs) or one ``get_object`` stream, to nowhere."""
    started = time.perf_counter()
    if parallel:
        with open(os.devnull, "wb") as sink:
            client.download_fileobj(bucket, key, sink, Config=transfer_config(part_size, workers))
    else:
        raw_get(client, bucket, key, size)
    return time.perf_counter() - started


# --- large files through the API ---------------------------------------------------------------------


@dataclass
class LargeUpload:
    """Wall times (seconds, from the start of the flow) of one multipart upload via the API."""

    item_id: str
    part_size: int
    part_count: int
    created: float = 0.0
    urls: float = 0.0
    parts_sent: float = 0.0
    ended: float = 0.0  # upload-ended answered: the bytes are accepted, analysis queued
    ready: float = 0.0  # the analysis (read back, SHA-256, type, scan) finished
    state: str = ""
    sha256: str = ""
    marks: dict[str, float] = field(default_factory=dict)


def api_multipart_upload(
    api: DriveApi,
    title: str,
    data: bytes,
    parent: str | None,
    workers: int,
    wait_ready: Callable[[str, float], tuple[str, str]],
    mark: Callable[[str], None] = lambda _phase: None,
) -> LargeUpload:
    """The multipart flow a browser runs: create, all part URLs in one call, ``workers``
    parallel part PUTs, upload-ended, then wait until the analysis has made it ``ready``.

    ``wait_ready(item_id, started)`` returns (final state, sha256); ``mark(phase)`` tells
    the RSS sampler which phase the flow is in."""
    mark("create")
    started = time.perf_counter()
    item = api.create_file(title, len(data), parent)
    if item.get("multipart") is None:
        raise FlowError(f"{title}: expected a multipart upload, got a single PUT")
    part_size, part_count = item["multipart"]["part_size"], item["multipart"]["part_count"]
    flow = LargeUpload(item["id"], part_size, part_count, created=time.perf_counter() - started)
    urls = api.part_urls(item["id"], list(range(1, part_count + 1)))
    flow.urls = time.perf_counter() - started
    mark("part PUTs")
    view = memoryview(data)

    def send(number: int) -> str:
        return api.put(
            urls[number], view[(number - 1) * part_size : number * part_size], what=f"part {number}"
        )

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send, range(1, part_count + 1)))
    flow.parts_sent = time.perf_counter() - started
    mark("upload-ended")
    ended = api.upload_ended(item["id"])
    flow.ended = time.perf_counter() - started
    if ended["upload_state"] not in ("analyzing", "ready"):
        raise FlowError(f"{title}: upload ended {ended['upload_state']}")
    mark("analysis")
    flow.state, flow.sha256 = wait_ready(item["id"], started)
    flow.ready = time.perf_counter() - started
    mark("after")
    return flow


def api_large_download(
    api: DriveApi, item_id: str, size: int, part_size: int, workers: int, *, parallel: bool
) -> float:
    """Redirect, then one presigned GET stream, or ``workers`` ranged GETs of ``part_size``
    on the same URL (what a download manager does; Range is not part of the signature)."""
    started = time.perf_counter()
    location = api.download_location(item_id)
    if not parallel:
        got = api.get_to_nowhere(location)
    else:
        ranges = [(start, min(size, start + part_size) - 1) for start in range(0, size, part_size)]
        with ThreadPoolExecutor(workers) as pool:
            got = sum(
                pool.map(
                    lambda r: api.get_to_nowhere(
                        location, headers={"Range": f"bytes={r[0]}-{r[1]}"}, status=206
                    ),
                    ranges,
                )
            )
    if got != size:
        raise FlowError(f"downloaded {got} bytes, expected {size}")
    return time.perf_counter() - started


# --- running a batch -----------------------------------------------------------------------------------


def run_batch(
    function: Callable[[Any], Any], jobs: Iterable[Any], workers: int
) -> tuple[float, list[Any]]:
    """Run ``function`` over ``jobs`` with ``workers`` threads: (wall seconds, results)."""
    jobs = list(jobs)
    started = time.perf_counter()
    if workers == 1:
        results = [function(job) for job in jobs]
    else:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(function, jobs))
    return time.perf_counter() - started, results


#: Every generated file starts with this: libmagic reads some random heads as DOS
#: executables (a first byte of 0xE9 or 0xEB, about 1 file in 100), which the drive refuses.
HEADER = b"communs bench data\x00"


def random_files(count: int, size: int) -> list[bytes]:
    """Incompressible contents, different for every file, with a neutral first line."""
    return [HEADER[:size] + os.urandom(max(0, size - len(HEADER))) for _ in range(count)]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
