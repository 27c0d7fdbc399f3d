"""The embedded PostgreSQL's ``postmaster.pid`` is settled before the library reads it: a
file no running server holds is removed (the library would take any live pid for a running
server and fail on its status); a running server's file is kept."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from suite.embedded.engines import _live_postgres, _settle_postmaster_pid


def write_pid_file(pgdata: Path, pid: int, status: str) -> Path:
    lines = [str(pid), str(pgdata), str(int(time.time())), "", "/tmp", "", "0 0", status]
    path = pgdata / "postmaster.pid"
    path.write_text("\n".join(lines) + "\n")
    return path


def machine_postgres_pid() -> int:
    """A running postgres process of this machine (the PostgreSQL service the tests use)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _live_postgres(int(entry.name)):
            return int(entry.name)
    raise AssertionError("no running postgres process found")


def test_a_pid_file_of_another_program_or_of_no_process_is_removed(tmp_path):
    path = write_pid_file(tmp_path, os.getpid(), "ready")  # this pytest: alive, not postgres
    _settle_postmaster_pid(tmp_path)
    assert not path.exists()
    gone = subprocess.Popen(["true"])
    gone.wait()
    path = write_pid_file(tmp_path, gone.pid, "stopping")
    _settle_postmaster_pid(tmp_path)
    assert not path.exists()


def test_a_pid_file_of_a_zombie_is_removed(tmp_path):
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)  # exited, not reaped yet: a zombie, as a dead postmaster can be
    path = write_pid_file(tmp_path, child.pid, "ready")
    _settle_postmaster_pid(tmp_path)
    assert not path.exists()
    child.wait()


def test_a_running_servers_pid_file_is_kept(tmp_path):
    pid = machine_postgres_pid()
    path = write_pid_file(tmp_path, pid, "ready")
    _settle_postmaster_pid(tmp_path)
    assert path.exists()
    # A server still stopping is waited for, up to the limit, then left to the library.
    path = write_pid_file(tmp_path, pid, "stopping")
    started = time.monotonic()
    _settle_postmaster_pid(tmp_path, wait_seconds=0.5)
    assert path.exists() and time.monotonic() - started >= 0.5
