"""Zero-config boot: ``suite serve`` with nothing configured starts embedded PostgreSQL and
SeaweedFS under SUITE_DATA_DIR, serves, stops everything on Ctrl-C, and reuses the data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from suite.embedded.engines import free_port

ENGINE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY",
                    "S3_BUCKET", "DJANGO_SETTINGS_MODULE", "SUITE_MODE", "REDIS_KEY_PREFIX")


def zero_config_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENGINE_VARIABLES}
    env["SUITE_DATA_DIR"] = str(data_dir)
    return env


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "suite.cli", "serve", "--port", str(port)],
        env=zero_config_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )


def wait_ready(process: subprocess.Popen[str], port: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"suite serve exited early:\n{process.stdout.read()}")
        try:
            response = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            if response.status_code == 200:
                return response.json()
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or still starting its engines: ask again until the deadline
        time.sleep(0.1)
    process.terminate()  # SIGTERM: suite serve stops the engines it started (SIGKILL would orphan them)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    pytest.fail(f"not ready after {timeout} s:\n{process.stdout.read()}")


def children_of(process: subprocess.Popen[str]) -> list[psutil.Process]:
    return psutil.Process(process.pid).children(recursive=True)


def stop(process: subprocess.Popen[str], signum: int = signal.SIGINT) -> str:
    process.send_signal(signum)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"suite serve did not stop on Ctrl-C:\n{output}")
    return output


def postgres_running(data_dir: Path) -> bool:
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(data_dir / "postgres") in " ".join(proc.info["cmdline"] or []):
            return True
    return False


def test_zero_config_serve_boots_serves_stops_and_reuses_data(tmp_path):
    data_dir = tmp_path / "var"
    port = free_port()

    # first run: everything is created
    started = time.monotonic()
    process = start(data_dir, port)
    ready = wait_ready(process, port)
    cold_start = time.monotonic() - started
    assert ready["checks"]["database"]["status"] == "ok"
    assert ready["checks"]["s3"]["status"] == "ok"
    assert ready["checks"]["redis"]["status"] == "not_configured"
    weed = [p for p in children_of(process) if p.name() == "weed"]
    assert len(weed) == 1
    assert postgres_running(data_dir)

    # the API answers, deny by default, and docs are served
    assert requests.get(f"http://127.0.0.1:{port}/api/v1/users/me", timeout=5).status_code == 401
    assert requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5).status_code == 200
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"status": "ok"}

    # a user created by another `suite` process on the same embedded database
    created = subprocess.run(
        [sys.executable, "-m", "suite.cli", "user", "create", "--email", "zero@example.gouv.fr"],
        env=zero_config_env(data_dir), capture_output=True, text=True, timeout=60,
    )
    assert created.returncode == 0, created.stderr
    output = stop(process)
    assert process.returncode == 0, output
    assert "embedded PostgreSQL ready" in output and "embedded S3 (SeaweedFS) ready" in output
    assert f"http://127.0.0.1:{port}" in output
    assert not weed[0].is_running() or weed[0].status() == psutil.STATUS_ZOMBIE
    deadline = time.monotonic() + 10
    while postgres_running(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not postgres_running(data_dir)
    print(f"zero-config cold start: {cold_start:.1f} s")

    # second run: same data, same credentials; stopped with SIGTERM this time (`kill`, a
    # container stop): the engines it started must stop too
    port = free_port()
    process = start(data_dir, port)
    try:
        wait_ready(process, port)
        weed = [p for p in children_of(process) if p.name() == "weed"]
        token = subprocess.run(
            [sys.executable, "-m", "suite.cli", "token", "create", "--user", "zero@example.gouv.fr"],
            env=zero_config_env(data_dir), capture_output=True, text=True, timeout=60,
        )
        assert token.returncode == 0, token.stderr
        me = requests.get(
            f"http://127.0.0.1:{port}/api/v1/users/me",
            headers={"Authorization": f"Bearer {token.stdout.strip()}"}, timeout=5,
        )
        assert me.status_code == 200 and me.json()["email"] == "zero@example.gouv.fr"
    finally:
        output = stop(process, signal.SIGTERM)
    assert process.returncode == 0, output
    assert "[suite] stopped" in output
    assert not weed[0].is_running() or weed[0].status() == psutil.STATUS_ZOMBIE
    deadline = time.monotonic() + 10
    while postgres_running(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not postgres_running(data_dir)
