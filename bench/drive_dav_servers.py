"""The two WebDAV servers of bench/drive_dav.py as its client sees them: the reference
``rclone serve webdav`` over a local directory, and a :class:`Target` for each server (root
URL, Basic credentials, the processes whose CPU and memory are read, its Redis)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
from environment import HOST
from processes import ProcessGroups, Server, port_answers

REFERENCE_USER, REFERENCE_PASSWORD = "bench", "bench-dav"


class RcloneWebdav(Server):
    """``rclone serve webdav DIR`` on a free port (``--vfs-cache-mode off``, the default: the
    body goes straight into a file); it answers when its port accepts connections."""

    def __init__(self, directory: Path, log_path: Path, rclone: str):
        super().__init__("reference", {**os.environ, "RCLONE_CONFIG": os.devnull}, log_path)
        self.name = "rclone serve webdav"
        self.directory = directory
        self.rclone = rclone

    def start(self, timeout: float = 30) -> RcloneWebdav:
        command = [
            self.rclone, "serve", "webdav", str(self.directory),
            "--addr", f"{HOST}:{self.port}",
            "--user", REFERENCE_USER, "--pass", REFERENCE_PASSWORD,
        ]  # fmt: skip
        self.launch(
            command,
            cwd=None,
            ready=lambda: port_answers(HOST, self.port),
            timeout=timeout,
            not_ready="did not start",
        )
        return self


def rclone_version(rclone: str) -> str:
    output = subprocess.run([rclone, "version"], capture_output=True, text=True).stdout
    return output.splitlines()[0] if output else "rclone (unknown version)"


class Target:
    """One WebDAV server as the client sees it: root URL, Basic credentials, and the
    process whose memory and CPU are read."""

    def __init__(
        self,
        name: str,
        server: Server,
        root: str,
        auth: tuple[str, str],
        engines: dict[str, int] | None = None,
        redis_url: str | None = None,
    ):
        self.name = name
        self.redis_url = redis_url  # the server's Redis, for its connection counter
        self.server = server
        self.root = root.rstrip("/") + "/"
        self.auth = auth
        self.engines = engines or {}  # processes the server depends on (SeaweedFS)

    def cpu_groups(self) -> ProcessGroups:
        """The server, its engines and this process (the client), for a ``CpuWindow``."""
        pids = {"server": self.server.pid, **self.engines, "client": os.getpid()}
        return {name: (lambda pid=pid: [pid]) for name, pid in pids.items()}

    def redis_connections(self) -> int | None:
        """Connections the Redis server has accepted so far (all clients: others using
        the same Redis count too)."""
        if not self.redis_url:
            return None
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            return int(client.info("stats")["total_connections_received"]) - 1  # minus ours
        finally:
            client.close()

    def url(self, path: str) -> str:
        return self.root + path.lstrip("/")

    def client(self, connections: int = 1) -> httpx.Client:
        return httpx.Client(
            auth=self.auth,
            timeout=httpx.Timeout(600, connect=10),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
