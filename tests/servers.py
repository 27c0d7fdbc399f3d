"""Real ``suite serve`` processes for end-to-end tests: started on a free port against a
database of their own (created when missing, migrated by the server) and a Redis database
number of their own; stopped gracefully, or killed with SIGKILL to test crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import requests

from suite.embedded.engines import ensure_database_at, free_port

SUITE = str(Path(sys.executable).parent / "suite")


def database_url(name: str) -> str:
    """The URL of database ``name`` on the tests' PostgreSQL, created when missing."""
    url = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))
    ensure_database_at(url)
    return url


def redis_url(db: int) -> str:
    parts = urlsplit(os.environ["REDIS_URL"])
    return urlunsplit(parts._replace(path=f"/{db}"))


def server_env(*, database: str, redis_db: int, s3: dict, data_dir: Path, apps: str,
               **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL=database_url(database),
        REDIS_URL=redis_url(redis_db),
        REDIS_KEY_PREFIX=f"communs-e2e-{uuid.uuid4().hex[:8]}",
        S3_ENDPOINT_URL=s3["S3_ENDPOINT_URL"],
        S3_ACCESS_KEY_ID=s3["S3_ACCESS_KEY_ID"],
        S3_SECRET_ACCESS_KEY=s3["S3_SECRET_ACCESS_KEY"],
        S3_BUCKET=s3["S3_BUCKET"],
        SUITE_DATA_DIR=str(data_dir),
        SUITE_APPS=apps,
        LOG_LEVEL="warning",
        **extra,
    )
    return env


class SuiteServer:
    """One ``suite serve`` process. ``env`` is shared by servers meant to serve the same data
    (same database, Redis and key prefix); each gets its own port."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env = dict(env)
        self.log_path = log_path
        self.port = free_port()
        self.env["SUITE_PUBLIC_URL"] = f"http://127.0.0.1:{self.port}"
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> SuiteServer:
        """Start and wait until ``/healthz`` answers (the first start migrates)."""
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [SUITE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"suite serve exited ({self.process.returncode}):\n{self.log()}")
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy migrating
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"suite serve did not answer in time:\n{self.log()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a crash)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def suite(self, *args: str) -> str:
        """Run a ``suite`` command against this server's data; its last output line."""
        result = subprocess.run(
            [SUITE, *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def flush_redis(self) -> None:
        redis.Redis.from_url(self.env["REDIS_URL"]).flushdb()
