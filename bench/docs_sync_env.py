"""What bench/docs_sync.py needs besides the shared modules (``environment.py``,
``processes.py``): the reference y-websocket server installed, documents and their update
log in the database, realtime tickets, and child processes of the bench itself."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from environment import ROOT
from processes import Server

Y_WEBSOCKET = "y-websocket@1.5.4"
DRIVER = Path(__file__).resolve().parent / "docs_sync.py"
STEP1_EMPTY = b"\x00\x00\x01\x00"  # sync, SyncStep1, state vector of an empty document


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


def reset_data() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE docs_app_document CASCADE")


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
