"""A real ClamAV daemon for tests, with a one-signature database.

No signature download is possible (nor wanted) in tests, so the daemon loads a custom
database: one body signature (``.ndb``) matching the EICAR test string anywhere in a file.
ClamAV appends ``.UNOFFICIAL`` to the names of signatures from unsigned databases.
With that database clamd answers PING about 30 ms after it is started.

Use the ``clamd`` fixture (session-wide instance) or :func:`start_clamd` for an instance
with other options (a small ``StreamMaxLength``). Import the fixtures into a test module::

    from tests.drive_app.clamd import clamd  # noqa: F401
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from suite.embedded.engines import free_port

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!H+H*"
SIGNATURE_NAME = "Communs.Test.EICAR"
#: The name clamd reports: unsigned databases get the ``.UNOFFICIAL`` suffix.
REPORTED_SIGNATURE = f"{SIGNATURE_NAME}.UNOFFICIAL"
INSTALL_HINT = "clamd is not installed: apt-get install -y clamav-daemon"
START_TIMEOUT = 30.0


def clamd_binary() -> str:
    """The clamd executable; fails the test (not skips) when it is missing."""
    found = shutil.which("clamd") or next(
        (path for path in ("/usr/sbin/clamd", "/usr/local/sbin/clamd") if Path(path).exists()),
        None,
    )
    if found is None:
        pytest.fail(INSTALL_HINT)
    return found


@dataclass
class ClamdServer:
    directory: Path
    process: subprocess.Popen[bytes]
    socket_path: str
    address: tuple[str, int]
    startup_seconds: float

    def log(self) -> str:
        parts = []
        for name in ("clamd.log", "output.log"):
            path = self.directory / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _answers_ping(socket_path: str) -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(1.0)
        conn.connect(socket_path)
        conn.sendall(b"zPING\0")
        return conn.recv(16) == b"PONG\0"
    return False


def start_clamd(directory: Path, *, stream_max_length: str = "100M") -> ClamdServer:
    """Start clamd in the foreground with its config, database, socket and logs in
    ``directory``, listening on a unix socket and on a free 127.0.0.1 port, and wait until
    it answers PING. ``stream_max_length`` is clamd's INSTREAM limit (``10K``, ``5M``)."""
    binary = clamd_binary()
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "db"
    database.mkdir(exist_ok=True)
    # ndb: Name:TargetType:Offset:HexSignature; type 0 = any file, offset * = anywhere.
    (database / "communs-test.ndb").write_text(f"{SIGNATURE_NAME}:0:*:{EICAR.hex()}\n")
    socket_path = str(directory / "clamd.sock")
    port = free_port()
    config = directory / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                "Foreground yes",
                f"LocalSocket {socket_path}",
                f"TCPSocket {port}",
                "TCPAddr 127.0.0.1",
                f"DatabaseDirectory {database}",
                f"StreamMaxLength {stream_max_length}",
                f"LogFile {directory / 'clamd.log'}",
                f"PidFile {directory / 'clamd.pid'}",
                # The test database is all there is: no online checks, no self-reloads.
                "SelfCheck 0",
                "Bytecode no",
                "",
            ]
        )
    )
    output = (directory / "output.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen(
        [binary, "-c", str(config)],
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    output.close()
    server = ClamdServer(directory, process, socket_path, ("127.0.0.1", port), 0.0)
    while not _answers_ping(socket_path):
        if process.poll() is not None:
            pytest.fail(f"clamd exited with status {process.returncode}:\n{server.log()}")
        if time.monotonic() - started > START_TIMEOUT:
            server.stop()
            pytest.fail(f"clamd did not answer PING within {START_TIMEOUT} s:\n{server.log()}")
        time.sleep(0.01)
    server.startup_seconds = time.monotonic() - started
    return server


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A clamd for the session: ``{"socket": path, "address": (host, port), "server":
    ClamdServer}``. It detects the EICAR string as :data:`REPORTED_SIGNATURE`."""
    server = start_clamd(tmp_path_factory.mktemp("clamd"))
    try:
        yield {"socket": server.socket_path, "address": server.address, "server": server}
    finally:
        server.stop()
