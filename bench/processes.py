"""The processes the benches start, and what /proc says about processes.

Starting: ``suite serve`` and the reference servers, ``suite worker`` and ``suite`` CLI
commands; a server runs in a session of its own, its output appended to a log file, and
counts as started once it answers. Measuring: process trees and sessions, CPU seconds and
RSS read from ``/proc``, and two samplers over a window of time (CPU used by groups of
processes, RSS of groups sampled in a thread).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from environment import HOST, ROOT, SUITE

from suite.embedded.engines import free_port

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: Named groups of processes, each a function listing its pids now.
ProcessGroups = dict[str, Callable[[], list[int]]]


# --- /proc ------------------------------------------------------------------------------------


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (None when it is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 when it is gone)."""
    fields = stat_fields(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def status_kb(pid: int | str, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (``VmRSS``, ``VmHWM``)."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(match[1]) if match else 0


def rss_kb(pids: Iterable[int]) -> int:
    """Sum of VmRSS over ``pids`` (those gone count 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += status_kb(pid, "VmRSS")
    return total


def _all_stats() -> Iterable[tuple[int, list[str]]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields is not None:
                yield int(entry.name), fields


def session_pids(session_id: int) -> list[int]:
    """Processes of a session (a child started with ``start_new_session``, and its children)."""
    return [pid for pid, fields in _all_stats() if int(fields[3]) == session_id]


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (by their parent pids)."""
    children: dict[int, list[int]] = {}
    for child, fields in _all_stats():
        children.setdefault(int(fields[1]), []).append(child)
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def pids_named(*names: str) -> list[int]:
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in names:
                found.append(int(comm.parent.name))
        except OSError:
            continue
    return found


def reset_peak(pid: int) -> bool:
    """Reset the kernel's peak RSS (``VmHWM``) of ``pid``; False where that is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- over a window of time --------------------------------------------------------------------


class CpuWindow:
    """CPU seconds used by each group of processes between ``start`` and ``stop``, or over a
    ``with`` block (processes that come and go inside the window count as far as /proc can
    tell: new ones in full, gone ones not at all)."""

    def __init__(self, groups: ProcessGroups):
        self.groups = groups
        self.before: dict[str, dict[int, float]] = {}
        self.started = 0.0
        self.used: dict[str, float] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            name: {pid: cpu_seconds(pid) for pid in pids()} for name, pids in self.groups.items()
        }

    def start(self) -> None:
        self.before, self.started = self._sample(), time.monotonic()

    def stop(self) -> dict[str, float]:
        """``elapsed`` (seconds) and, per group, the CPU seconds it used."""
        after, elapsed = self._sample(), time.monotonic() - self.started
        used = {
            name: sum(
                max(0.0, seconds - self.before[name].get(pid, 0.0)) for pid, seconds in pids.items()
            )
            for name, pids in after.items()
        }
        self.used = {"elapsed": elapsed, **used}
        return self.used

    @property
    def percent(self) -> dict[str, float]:
        """Per group, the CPU it used in % of one core (after ``stop``)."""
        return {name: 100 * self.used[name] / self.used["elapsed"] for name in self.groups}

    def __enter__(self) -> CpuWindow:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RssSampler:
    """Samples the RSS of each group every ``interval`` seconds in a thread, from ``start``
    (or entering a ``with`` block) to ``stop``, and once more then; ``mark`` names the
    phase the following samples belong to. A group's pids are listed once, at the start."""

    def __init__(self, groups: ProcessGroups, interval: float = 0.02):
        self.groups = groups
        self.interval = interval
        self.phase = "before"
        self.samples: list[tuple[float, str, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._pids = {name: pids() for name, pids in groups.items()}
        self._started = time.monotonic()

    def _sample(self) -> None:
        values = {name: rss_kb(pids) for name, pids in self._pids.items()}
        self.samples.append((time.monotonic() - self._started, self.phase, values))

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._sample()
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def mark(self, phase: str) -> None:
        self.phase = phase

    def start(self) -> RssSampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def __enter__(self) -> RssSampler:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per group: RSS at the start, the peak and the end, the number of samples, and per
        phase the lowest and highest sample (kB)."""
        result: dict[str, dict[str, Any]] = {}
        for name in self.groups:
            phases: dict[str, list[int]] = {}
            for _at, phase, values in self.samples:
                phases.setdefault(phase, []).append(values[name])
            result[name] = {
                "start_kb": self.samples[0][2][name] if self.samples else 0,
                "peak_kb": max((values[name] for _at, _phase, values in self.samples), default=0),
                "end_kb": self.samples[-1][2][name] if self.samples else 0,
                "samples": len(self.samples),
                "phases": {
                    phase: {"min_kb": min(v), "max_kb": max(v), "n": len(v)}
                    for phase, v in phases.items()
                },
            }
        return result


# --- starting and stopping --------------------------------------------------------------------


def healthz_answers(base: str) -> bool:
    """Whether a ``suite`` server (or any ASGI server of the suite) at ``base`` is up."""
    import httpx

    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def port_answers(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port`` (IPv4)."""
    with socket.socket() as sock, contextlib.suppress(OSError):
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0
    return False


def suite_command(env: dict[str, str], *args: str, check: bool = True) -> str:
    """A ``suite`` command against the data ``env`` points at; its last output line."""
    result = subprocess.run(
        [SUITE, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    if check and result.returncode:
        raise RuntimeError(f"suite {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


class ChildProcess:
    """A command run in a session of its own, its output appended to ``log_path``. ``stop``
    sends it SIGTERM, and SIGKILL to its whole session if it has not exited within
    ``stop_timeout`` seconds."""

    stop_timeout = 15.0

    def __init__(self, name: str, env: dict[str, str], log_path: Path):
        self.name = name
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def launch(
        self,
        command: list[str],
        *,
        cwd: Path | None,
        ready: Callable[[], bool],
        timeout: float,
        poll: float = 0.1,
        not_ready: str = "did not answer",
    ) -> None:
        """Start ``command`` and return once ``ready()`` holds (asked every ``poll``
        seconds); if it exits first or ``timeout`` seconds pass, stop it and raise with the
        end of its log."""
        with open(self.log_path, "ab") as log:
            process = self.process = subprocess.Popen(
                command,
                env=self.env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None:
                problem = f"exited ({process.returncode})"
            elif time.monotonic() > deadline:
                problem = not_ready
            else:
                time.sleep(poll)
                continue
            self.stop()
            raise RuntimeError(f"{self.name} {problem}:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


class Server(ChildProcess):
    """``suite serve`` (``kind="suite"``) or the reference y-websocket server (``"reference"``,
    installed in ``node_dir``) on a free port."""

    def __init__(
        self, kind: str, env: dict[str, str], log_path: Path, *, node_dir: Path | None = None
    ):
        super().__init__(f"{kind} server", env, log_path)
        self.kind = kind
        self.port = free_port()
        self.node_dir = node_dir
        self.base = f"http://{HOST}:{self.port}"
        self.ws = f"ws://{HOST}:{self.port}"

    def start(self, timeout: float = 90) -> Server:
        if self.kind == "suite":
            self.env["SUITE_PUBLIC_URL"] = self.base
            command = [SUITE, "serve", "--host", HOST, "--port", str(self.port)]
            self.launch(
                command, cwd=ROOT, ready=lambda: healthz_answers(self.base), timeout=timeout
            )
        else:
            assert self.node_dir is not None
            self.env.update(HOST=HOST, PORT=str(self.port))
            command = ["node", "node_modules/y-websocket/bin/server.js"]
            self.launch(
                command,
                cwd=self.node_dir,
                ready=lambda: port_answers(HOST, self.port),
                timeout=timeout,
            )
        return self

    def rss_kb(self) -> int:
        return status_kb(self.pid, "VmRSS")


class Worker(ChildProcess):
    """``suite worker`` (Celery, prefork with one child)."""

    stop_timeout = 30.0

    def __init__(self, env: dict[str, str], log_path: Path):
        super().__init__("suite worker", env, log_path)

    def start(self, timeout: float = 60) -> Worker:
        self.launch(
            [SUITE, "worker", "--concurrency", "1", "--loglevel", "WARNING"],
            cwd=ROOT,
            # The pool's child is forked once the worker is ready.
            ready=lambda: len(session_pids(self.pid)) >= 2,
            timeout=timeout,
            poll=0.2,
            not_ready="did not start its pool",
        )
        return self
