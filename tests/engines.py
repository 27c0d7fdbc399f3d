"""Real engines for the tests: the machine's PostgreSQL and Redis when reachable (or those
named by DATABASE_URL / REDIS_URL), otherwise embedded ones; SeaweedFS is always started by
the tests themselves (see conftest's ``s3_engine``)."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

TEST_DATA_DIR = Path(tempfile.gettempdir()) / f"communs-tests-{os.getuid()}"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def configure_database() -> None:
    if os.environ.get("DATABASE_URL"):
        return
    if _reachable("127.0.0.1", 5432):
        os.environ["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:5432/communs"
        return
    from suite.embedded.engines import EmbeddedPostgres

    os.environ.update(EmbeddedPostgres(TEST_DATA_DIR / "postgres").start())


def configure_redis() -> None:
    if os.environ.get("REDIS_URL"):
        return
    if _reachable("127.0.0.1", 6379):
        # A database number of its own: the tests flush it.
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/15"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("the tests need Redis: set REDIS_URL or install redis-server")
    from suite.embedded.engines import free_port

    port = free_port()
    subprocess.run(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--daemonize", "yes", "--save", "",
         "--appendonly", "no"],
        check=True,
    )
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/15"
    atexit.register(_shutdown_redis, port)


def _shutdown_redis(port: int) -> None:
    import redis

    with contextlib.suppress(redis.ConnectionError):  # already gone is fine
        redis.Redis(host="127.0.0.1", port=port).shutdown(nosave=True)


def configure() -> None:
    os.environ.setdefault("SUITE_DATA_DIR", str(TEST_DATA_DIR / "data"))
    os.environ.setdefault("REDIS_KEY_PREFIX", f"communs-test-{os.getpid()}")
    configure_database()
    configure_redis()
