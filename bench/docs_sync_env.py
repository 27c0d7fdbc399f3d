"""What bench/docs_sync.py runs on: the PostgreSQL database and Django in this process (the
bench account, documents, tickets), ``suite serve`` and reference y-websocket servers, child
processes, what /proc says about them (CPU, RSS), and the percentiles reported."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from suite.embedded.engines import free_port

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SUITE = str(Path(sys.executable).parent / "suite")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
Y_WEBSOCKET = "y-websocket@1.5.4"
DRIVER = Path(__file__).resolve().parent / "docs_sync.py"
BENCH_EMAIL = "bench-sync@communs.localhost"
STEP1_EMPTY = b"\x00\x00\x01\x00"  # sync, SyncStep1, state vector of an empty document



def base_env(
    *, database_url: str, redis_url: str, data_dir: Path, s3: dict[str, str]
) -> dict[str, str]:
    """The environment shared by this process (Django in process), its children and the
    servers: same database, Redis database and key prefix, S3 and secret key."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=f"communs-bench-{os.getpid()}",
        SUITE_APPS="docs",
        SUITE_DATA_DIR=str(data_dir),
        SECRET_KEY=secrets.token_urlsafe(50),
        LOG_LEVEL="warning",
        DEBUG="false",
        PYTHONPATH=str(ROOT),
        **s3,
    )
    return env


# --- /proc ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pids_named(*names: str) -> list[int]:
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in names:
                found.append(int(comm.parent.name))
        except OSError:
            continue
    return found


def status_kb(pid: int | str, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (``VmRSS``, ``VmHWM``)."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(match[1]) if match else 0


class CpuMeter:
    """CPU seconds of the server and of PostgreSQL + Redis between two samples (engine
    processes that start or exit in between count for what they used inside the window
    as far as /proc can tell: new ones in full, gone ones not at all)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.started_at = self.server = 0.0
        self.engines: dict[int, float] = {}

    @staticmethod
    def _engines() -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in pids_named("postgres", "redis-server")}

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.server = cpu_seconds(self.pid)
        self.engines = self._engines()

    def stop(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.started_at
        now = self._engines()
        engines = sum(max(0.0, used - self.engines.get(pid, 0.0)) for pid, used in now.items())
        return {
            "server_cpu_percent": 100 * (cpu_seconds(self.pid) - self.server) / elapsed,
            "engines_cpu_percent": 100 * engines / elapsed,
        }


# --- servers ----------------------------------------------------------------------------------


class Server:
    """``suite serve`` (``kind="suite"``) or the reference y-websocket server (``"reference"``)
    on a free port, its output in ``log_path``."""

    def __init__(
        self, kind: str, env: dict[str, str], log_path: Path, *, node_dir: Path | None = None
    ):
        self.kind = kind
        self.port = free_port()
        self.env = dict(env)
        self.log_path = log_path
        self.node_dir = node_dir
        self.base = f"http://{HOST}:{self.port}"
        self.ws = f"ws://{HOST}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 90) -> Server:
        if self.kind == "suite":
            self.env["SUITE_PUBLIC_URL"] = self.base
            command = [SUITE, "serve", "--host", HOST, "--port", str(self.port)]
            cwd = ROOT
        else:
            assert self.node_dir is not None
            self.env.update(HOST=HOST, PORT=str(self.port))
            command = ["node", "node_modules/y-websocket/bin/server.js"]
            cwd = self.node_dir
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} server exited ({self.process.returncode}):\n{self.log()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} server did not answer:\n{self.log()}")
            time.sleep(0.1)
        return self

    def _answers(self) -> bool:
        if self.kind == "reference":
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return True
            except OSError:
                return False
        import httpx

        try:
            return httpx.get(self.base + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def rss_kb(self) -> int:
        return status_kb(self.pid, "VmRSS")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def reference_server_dir(cache: Path) -> Path:
    """A scratch npm project under ``cache`` with the reference server installed."""
    directory = cache / "y-websocket"
    if not (directory / "node_modules" / "y-websocket" / "bin" / "server.js").exists():
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "package.json").write_text('{"name": "bench-y-websocket", "private": true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", Y_WEBSOCKET],
            cwd=directory,
            check=True,
        )
    return directory


def node_package_version(node_dir: Path, package: str) -> str:
    return json.loads((node_dir / "node_modules" / package / "package.json").read_text())["version"]


# --- figures ----------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p99": percentile(values, 0.99), "n": len(values)}


# --- Django in this process, and its children ------------------------------------------------


def setup_django(*, migrate: bool) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "suite.settings"
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def reset_data() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE docs_app_document CASCADE")


def bench_account() -> tuple[Any, str]:
    from suite.identity.models import User
    from suite.identity.services import user_create
    from suite.identity.tokens import token_create

    user = User.objects.filter(email=BENCH_EMAIL).first() or user_create(
        email=BENCH_EMAIL, full_name="Bench"
    )
    return user, token_create(actor=None, user=user, name="bench", scopes=[])[1]


def new_document(user: Any, title: str) -> uuid.UUID:
    from docs_app.services.documents import document_create

    return document_create(actor=user, title=title).pk


def ticket(server: Server, token: str) -> str:
    import httpx

    response = httpx.post(
        f"{server.base}/api/v1/realtime/tickets",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["ticket"]


class Tickets:
    """A ticket, renewed well before it expires (``REALTIME_TICKET_TTL``, 60 s by default)."""

    def __init__(self, server: Server, token: str, renew_after: float = 20):
        self.server, self.token, self.renew_after = server, token, renew_after
        self.value, self.issued = "", -renew_after

    def get(self) -> str:
        if time.monotonic() - self.issued > self.renew_after:
            self.value, self.issued = ticket(self.server, self.token), time.monotonic()
        return self.value


def log_rows(document_id: uuid.UUID) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM docs_app_documentupdate WHERE document_id = %s", [document_id]
        )
        return cursor.fetchone()[0]


def child(args: list[str], payload: Any = None) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(DRIVER), *args],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    if result.returncode:
        raise RuntimeError(f"child {args} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
