"""The three measures of bench/drive.py, each run side by side with raw boto3 against the same
SeaweedFS; what they return is plain data (seconds, bytes, kB) that drive.py turns into
tables. Runs of the two sides alternate (API first on even repetitions, raw first on odd
ones) so that a drift of the shared machine does not favour one side."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from drive_flows import (
    DriveApi,
    FlowError,
    api_download,
    api_large_download,
    api_multipart_upload,
    api_upload,
    random_files,
    raw_delete_prefix,
    raw_get,
    raw_large_download,
    raw_multipart_upload,
    raw_put,
    run_batch,
    sha256_hex,
)
from drive_profile import analysis_seconds, profile_small_uploads, read_back
from processes import CpuWindow, ProcessGroups, RssSampler
from reporting import MB, say

RAW_PREFIX = "bench-raw/"


def _sides(repetition: int) -> tuple[str, str]:
    return ("api", "raw") if repetition % 2 == 0 else ("raw", "api")


def warm_up(api: DriveApi, raw: Any, bucket: str, workers: int) -> None:
    """First requests of each kind (Django's first call, connection pools of both sides)."""
    files = random_files(workers * 2, 64 * 1024)
    folder = api.folder("warm-up")
    _elapsed, timings = run_batch(
        lambda job: api_upload(api, f"w{job[0]}.bin", job[1], folder),
        list(enumerate(files)),
        workers,
    )
    run_batch(lambda t: api_download(api, t.item_id, 64 * 1024), timings, workers)
    run_batch(
        lambda job: raw_put(raw, bucket, f"{RAW_PREFIX}warm/{job[0]}", job[1]),
        list(enumerate(files)),
        workers,
    )
    run_batch(
        lambda job: raw_get(raw, bucket, f"{RAW_PREFIX}warm/{job[0]}", len(job[1])),
        list(enumerate(files)),
        workers,
    )
    raw_delete_prefix(raw, bucket, RAW_PREFIX)


# --- 1. many small files ---------------------------------------------------------------------------


def measure_small(
    api: DriveApi,
    raw: Any,
    bucket: str,
    files: list[bytes],
    workers_list: list[int],
    repeat: int,
    groups: ProcessGroups,
) -> dict[str, Any]:
    """Upload then download ``files`` through the API and with raw boto3, at each
    concurrency, ``repeat`` times. Returns per concurrency and repetition the wall time and
    CPU of each step, and the API's per-request timings."""
    size = len(files[0])
    runs: list[dict[str, Any]] = []
    for workers in workers_list:
        for repetition in range(repeat):
            say(
                f"1. {len(files)} files of {size:,} B, {workers} workers, repetition {repetition + 1}/{repeat}"
            )
            run: dict[str, Any] = {"workers": workers, "repetition": repetition}
            folder = api.folder(f"small-{workers}-{repetition}")
            raw_prefix = f"{RAW_PREFIX}small-{workers}-{repetition}/"
            timings: list[Any] = []
            for direction in ("upload", "download"):
                for side in _sides(repetition):
                    window = CpuWindow(groups)
                    window.start()
                    if side == "api" and direction == "upload":
                        elapsed, timings = run_batch(
                            lambda job, folder=folder: api_upload(
                                api, f"f{job[0]}.bin", job[1], folder
                            ),
                            list(enumerate(files)),
                            workers,
                        )
                        run["api_upload_timings"] = [(t.create, t.put, t.ended) for t in timings]
                    elif side == "api":
                        elapsed, downloads = run_batch(
                            lambda t: api_download(api, t.item_id, size), timings, workers
                        )
                        run["api_download_timings"] = downloads
                    elif direction == "upload":
                        elapsed, _ = run_batch(
                            lambda job, prefix=raw_prefix: raw_put(
                                raw, bucket, f"{prefix}{job[0]}", job[1]
                            ),
                            list(enumerate(files)),
                            workers,
                        )
                    else:
                        elapsed, _ = run_batch(
                            lambda index, prefix=raw_prefix: raw_get(
                                raw, bucket, f"{prefix}{index}", size
                            ),
                            range(len(files)),
                            workers,
                        )
                    cpu = window.stop()
                    run[f"{side}_{direction}"] = {
                        "seconds": elapsed,
                        "mb_s": len(files) * size / MB / elapsed,
                        "cpu": cpu,
                    }
            raw_delete_prefix(raw, bucket, raw_prefix)
            runs.append(run)
    return {"files": len(files), "size": size, "runs": runs}


def small_medians(small: dict[str, Any], workers: int, key: str) -> dict[str, Any]:
    """Median throughput and CPU of one (side, direction) at one concurrency over the
    repetitions."""
    rows = [run[key] for run in small["runs"] if run["workers"] == workers]
    cpu_keys = rows[0]["cpu"].keys()
    return {
        "mb_s": statistics.median(row["mb_s"] for row in rows),
        "mb_s_all": [row["mb_s"] for row in rows],
        "cpu": {name: statistics.median(row["cpu"][name] for row in rows) for name in cpu_keys},
    }


# --- 3. API overhead per small file ---------------------------------------------------------------------


def measure_overhead(
    api: DriveApi,
    token: str,
    small: dict[str, Any] | None,
    tiny_count: int,
    profile_count: int,
    profile_size: int,
) -> dict[str, Any]:
    """Latency of create and upload-ended seen by a client (one at a time, over HTTP):
    from part 1's one-worker runs (1 MB files: upload-ended reads 1 MB back), and for
    1 kB files (the read-back is negligible); then the same endpoints profiled in process."""
    result: dict[str, Any] = {}
    if small is not None:
        timings = [
            t for run in small["runs"] if run["workers"] == 1 for t in run["api_upload_timings"]
        ]
        if timings:
            result["small"] = {"size": small["size"], "timings": timings}
    say("3. floors: GET /api/v1/users/me over HTTP, SELECT 1 in process")
    result["floors"] = measure_floors(api, tiny_count)
    say(f"3. {tiny_count} files of 1 kB, one at a time")
    folder = api.folder("tiny")
    tiny = random_files(tiny_count, 1000)
    _elapsed, timings = run_batch(
        lambda job: api_upload(api, f"t{job[0]}.bin", job[1], folder), list(enumerate(tiny)), 1
    )
    result["tiny"] = {"size": 1000, "timings": [(t.create, t.put, t.ended) for t in timings]}
    say(f"3. profile in process: {profile_count} files of {profile_size:,} B and of 1 kB")
    profile_folder = api.folder("profile")
    result["profile"] = profile_small_uploads(
        token, random_files(profile_count, profile_size), profile_folder
    )
    result["profile_tiny"] = profile_small_uploads(
        token, random_files(profile_count, 1000), profile_folder
    )
    return result


def measure_floors(api: DriveApi, count: int) -> dict[str, list[float]]:
    """What any request costs on this machine right now, to read the others against: an
    authenticated API call doing one query (``users/me``, over HTTP), a PostgreSQL round
    trip (``SELECT 1`` through Django's cursor, in this process), and one S3 HEAD (boto3
    through the suite's store, in this process)."""
    from django.db import connection

    from suite.storage import get_blob_store

    me = api.base.rsplit("/drive", 1)[0] + "/users/me"
    for _ in range(5):
        api.api().get(me, timeout=30).raise_for_status()
    http = []
    for _ in range(count):
        started = time.perf_counter()
        api.api().get(me, timeout=30).raise_for_status()
        http.append(time.perf_counter() - started)
    sql = []
    with connection.cursor() as cursor:
        for _ in range(count):
            started = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            sql.append(time.perf_counter() - started)
    store = get_blob_store()
    key = store.new_key("bench-floor")
    store.put(key, b"floor")
    head = []
    for _ in range(count):
        started = time.perf_counter()
        store.head(key)
        head.append(time.perf_counter() - started)
    store.delete(key)
    return {"users_me_http": http, "select_1": sql, "s3_head": head}


# --- 2. one large file ------------------------------------------------------------------------------------


def wait_ready(timeout: float = 1800) -> Callable[[str, float], tuple[str, str]]:
    """Polls the database (in this process, not through the server) until the newest
    version of the item leaves ``analyzing``."""

    def wait(item_id: str, started: float) -> tuple[str, str]:
        from drive_app.models import FileVersion

        deadline = time.monotonic() + timeout
        while True:
            row = (
                FileVersion.objects.filter(item_id=item_id)
                .order_by("-number")
                .values_list("state", "sha256")
                .first()
            )
            if row is not None and row[0] not in ("pending", "analyzing"):
                return row[0], row[1]
            if time.monotonic() > deadline:
                raise FlowError(f"item {item_id} still {row} after {timeout:.0f} s")
            time.sleep(0.02)

    return wait


def measure_large(
    api: DriveApi,
    raw: Any,
    bucket: str,
    size: int,
    workers: int,
    repeat: int,
    groups: ProcessGroups,
    rss_groups: ProcessGroups,
) -> dict[str, Any]:
    """One file of ``size`` bytes: multipart upload through the API (to accepted, then to
    ready) against boto3's multipart upload; downloads (one stream, and parallel ranges)
    against boto3's; the RSS of the server and the worker over the API flow; the analysis
    time, and what reading the object back costs in Python."""
    say(f"2. generating {size / 2**20:,.0f} MiB")
    data = random_files(1, size)[0]
    expected_sha = sha256_hex(data)
    folder = api.folder("large")
    runs: list[dict[str, Any]] = []
    item_id = ""
    for repetition in range(repeat):
        say(
            f"2. one file of {size / 2**20:,.0f} MiB, {workers} workers, repetition {repetition + 1}/{repeat}"
        )
        run: dict[str, Any] = {"repetition": repetition}
        raw_key = f"{RAW_PREFIX}large-{repetition}"
        part_size = 0
        for side in _sides(repetition):
            window = CpuWindow(groups)
            window.start()
            if side == "api":
                with RssSampler(rss_groups) as sampler:
                    time.sleep(0.2)  # a baseline before the flow
                    flow = api_multipart_upload(
                        api,
                        f"large-{repetition}.bin",
                        data,
                        folder,
                        workers,
                        wait_ready(),
                        sampler.mark,
                    )
                    time.sleep(0.2)
                if flow.state != "ready" or flow.sha256 != expected_sha:
                    raise FlowError(
                        f"large upload ended {flow.state}, SHA-256 {flow.sha256} (expected {expected_sha})"
                    )
                part_size, item_id = flow.part_size, flow.item_id
                run["api_upload"] = {
                    **vars(flow),
                    "rss": sampler.summary(),
                    **analysis_seconds(flow.item_id),
                }
            else:
                # boto3 gets the part size the server chose (the API answered first or on a
                # previous repetition; on the very first raw-first run, the server's default).
                chosen = part_size or (runs[-1]["part_size"] if runs else 16 * 2**20)
                run["raw_upload"] = {
                    "seconds": raw_multipart_upload(raw, bucket, raw_key, data, chosen, workers)
                }
            run[f"{side}_upload"]["cpu"] = window.stop()
        run["part_size"] = part_size
        for parallel in (False, True):
            mode = "parallel" if parallel else "stream"
            for side in _sides(repetition):
                window = CpuWindow(groups)
                window.start()
                if side == "api":
                    seconds = api_large_download(
                        api, item_id, size, part_size, workers, parallel=parallel
                    )
                else:
                    seconds = raw_large_download(
                        raw, bucket, raw_key, size, part_size, workers, parallel=parallel
                    )
                run[f"{side}_download_{mode}"] = {"seconds": seconds, "cpu": window.stop()}
        raw_delete_prefix(raw, bucket, raw_key)
        runs.append(run)
    key = runs[-1]["api_upload"]["key"]
    say("2. reading the object back in this process (where the analysis time goes)")
    readback = read_back(key, size)
    del data
    return {
        "size": size,
        "workers": workers,
        "runs": runs,
        "read_back": readback,
        "sha256": expected_sha,
    }
