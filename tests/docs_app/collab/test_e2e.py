"""End to end with real clients: ``suite serve`` processes (uvicorn, PostgreSQL, Redis) and
Node ``yjs`` + ``y-websocket`` ``WebsocketProvider``s (tests/interop/yws_session.mjs).

- concurrent editors converge, awareness reaches peers, a reader's edit is refused;
- crash safety: ``kill -9`` of the server while a client types; every update a peer had
  seen is in storage at the moment of the crash; after a restart both clients converge;
- scale-out: two server processes sharing PostgreSQL and Redis, a client on each.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pycrdt
import pytest
import requests

from tests.servers import SuiteServer, server_env

INTEROP = Path(__file__).resolve().parents[2] / "interop"
DATABASE = "communs_collab_e2e"
REDIS_DB = 10


@pytest.fixture(scope="module")
def env(s3_engine, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("collab-e2e")
    return server_env(database=DATABASE, redis_db=REDIS_DB, s3=s3_engine, data_dir=data_dir,
                      apps="docs", DOCS_UNLOAD_AFTER_SECONDS="1")


@pytest.fixture(scope="module")
def server(env, tmp_path_factory):
    process = SuiteServer(env, tmp_path_factory.mktemp("logs") / "server.log")
    process.flush_redis()
    process.start()
    yield process
    process.stop()


class Account:
    def __init__(self, server: SuiteServer, role_name: str):
        self.email = f"{role_name}-{uuid.uuid4().hex[:8]}@communs.example"
        self.id = server.suite("user", "create", "--email", self.email, "--name", role_name)
        self.token = server.suite("token", "create", "--user", self.email)
        self.server = server

    def call(self, method: str, path: str, base: str | None = None, **kwargs):
        response = requests.request(
            method, f"{base or self.server.base}{path}",
            headers={"Authorization": f"Bearer {self.token}"}, timeout=15, **kwargs,
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def ticket(self, base: str | None = None) -> str:
        return self.call("post", "/api/v1/realtime/tickets", base=base, json={})["ticket"]


def new_document(server: SuiteServer, **grants: str) -> tuple[str, dict[str, Account]]:
    """A document owned by a new account, shared with one new account per ``name=role``."""
    owner = Account(server, "owner")
    document = owner.call("post", "/api/v1/documents/", json={"title": "Plan"})["id"]
    people = {"owner": owner}
    for name, role in grants.items():
        person = Account(server, name)
        owner.call("post", f"/api/v1/documents/{document}/accesses/",
                   json={"user": person.id, "role": role})
        people[name] = person
    return document, people


def stored_text(server: SuiteServer, document_id: str) -> str:
    """The ``text`` of the document as storage has it (snapshot + log), read directly."""
    doc = pycrdt.Doc()
    with psycopg.connect(server.env["DATABASE_URL"]) as conn:
        row = conn.execute(
            "SELECT state FROM docs_app_documentsnapshot WHERE document_id = %s", [document_id]
        ).fetchone()
        if row:
            doc.apply_update(bytes(row[0]))
        for (data,) in conn.execute(
            "SELECT data FROM docs_app_documentupdate WHERE document_id = %s ORDER BY id",
            [document_id],
        ):
            doc.apply_update(bytes(data))
    return str(doc.get("text", type=pycrdt.Text))


def node(scenario: dict, timeout: float = 60) -> subprocess.Popen[str]:
    binary = shutil.which("node")
    assert binary, "node is required for the interop tests"
    process = subprocess.Popen(
        [binary, str(INTEROP / "yws_session.mjs")], cwd=INTEROP, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(scenario))
    process.stdin.close()
    process.stdin = None  # closed: communicate() must not flush it
    return process


def converge(scenario: dict) -> dict:
    binary = shutil.which("node")
    assert binary, "node is required for the interop tests"
    result = subprocess.run(
        [binary, str(INTEROP / "yws_session.mjs")], cwd=INTEROP, text=True, capture_output=True,
        input=json.dumps({"mode": "converge", **scenario}), timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_node_providers_converge_with_awareness_and_a_refused_reader(server):
    document, people = new_document(server, editor="editor", reader="reader")
    url = f"{server.ws}/ws/docs"
    clients = [
        {"url": url, "room": document, "ticket": people["owner"].ticket(), "name": "owner",
         "type": "Bonjour à tous "},
        {"url": url, "room": document, "ticket": people["editor"].ticket(), "name": "editor",
         "type": "— ordre du jour "},
        {"url": url, "room": document, "ticket": people["reader"].ticket(), "name": "reader",
         "type": "EVIL", "readOnly": True},
    ]
    result = converge({"clients": clients})

    owner, editor, reader = result["clients"]
    assert owner["text"] == editor["text"]
    assert sorted(owner["text"]) == sorted("Bonjour à tous — ordre du jour ")
    assert "EVIL" not in owner["text"] and not set("EVIL") & set(owner["text"])
    assert reader["denied"] and not owner["denied"] and not editor["denied"]
    assert owner["peers"] == ["editor", "reader"]
    assert reader["peers"] == ["editor", "owner"]
    # The server's stored state is the editors' text (the reader's edit never reached it).
    assert stored_text(server, document) == owner["text"]


class Observer:
    """Reads the Node observer's lines in a thread: what the watching peer has seen."""

    def __init__(self, process: subprocess.Popen[str]):
        self.process = process
        self.seen = ""
        self.final: dict | None = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            with self.lock:
                if "seen" in message:
                    self.seen = message["seen"]
                else:
                    self.final = message["final"]

    def snapshot(self) -> str:
        with self.lock:
            return self.seen


@pytest.mark.parametrize("run", range(3))
def test_kill_9_while_typing_loses_nothing_a_peer_has_seen(env, tmp_path, run):
    crashing = SuiteServer(env, tmp_path / "crash.log").start()
    try:
        document, people = new_document(crashing, editor="editor")
        url = f"{crashing.ws}/ws/docs"
        observer = Observer(node({
            "mode": "observe", "durationMs": 9000, "intervalMs": 10,
            "clients": [
                {"url": url, "room": document, "ticket": people["owner"].ticket()},
                {"url": url, "room": document, "ticket": people["editor"].ticket()},
            ],
        }))
        time.sleep(1.5 + run * 0.37)  # a different moment of the typing each run
        crashing.kill()
        seen = observer.snapshot()
        stored = stored_text(crashing, document)
        assert len(seen) > 20, "the peer saw the writer type before the crash"
        # Appends only: everything the peer saw is a prefix of what storage holds.
        assert stored.startswith(seen), (seen, stored)

        crashing.start()  # same port: the providers reconnect and resync
        observer.process.wait(timeout=30)
        observer.thread.join(timeout=5)
        assert observer.final is not None, observer.process.stderr.read()
        assert observer.final["writer"] == observer.final["watcher"]
        assert observer.final["writer"].startswith(seen)
        deadline = time.monotonic() + 5
        while stored_text(crashing, document) != observer.final["writer"]:
            assert time.monotonic() < deadline, "storage did not catch up after the restart"
            time.sleep(0.1)
    finally:
        crashing.stop()


def test_two_server_processes_converge_through_redis(env, tmp_path):
    first = SuiteServer(env, tmp_path / "a.log").start()
    second = SuiteServer(env, tmp_path / "b.log").start()
    try:
        document, people = new_document(first, editor="editor")
        clients = [
            {"url": f"{first.ws}/ws/docs", "room": document, "name": "on-a",
             "ticket": people["owner"].ticket(first.base), "type": "alpha-"},
            {"url": f"{second.ws}/ws/docs", "room": document, "name": "on-b",
             "ticket": people["editor"].ticket(second.base), "type": "omega+"},
        ]
        result = converge({"clients": clients})
        a, b = result["clients"]
        assert a["text"] == b["text"]
        assert sorted(a["text"]) == sorted("alpha-omega+")
        assert a["peers"] == ["on-b"] and b["peers"] == ["on-a"]
        assert stored_text(first, document) == a["text"]
    finally:
        first.stop()
        second.stop()


class FrameLog:
    """Connects with permessage-deflate offered (as browsers do) and records, for each data
    frame the server sent, its size on the wire and whether it was compressed (RSV1)."""

    def __init__(self, socket):
        self.socket = socket
        self.frames: list[tuple[bool, int, bytes]] = []
        extensions = self.socket.protocol.extensions
        self.negotiated = self.socket.response.headers.get("Sec-WebSocket-Extensions", "")
        if extensions:
            deflate = extensions[0]
            decode = deflate.decode

            def recording_decode(frame, **kwargs):
                decoded = decode(frame, **kwargs)
                self.frames.append((frame.rsv1, len(frame.data), bytes(decoded.data)))
                return decoded

            deflate.decode = recording_decode

    def receive_until(self, predicate, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            message = self.socket.recv(timeout=max(0.1, deadline - time.monotonic()))
            if predicate(message):
                return message

    def frame_of(self, message: bytes) -> tuple[bool, int]:
        return next((rsv1, size) for rsv1, size, data in self.frames if data == message)


def test_websocket_compression_is_off_by_default(server):
    from websockets.sync.client import connect

    from docs_app.collab import protocol

    document, people = new_document(server)
    url = f"{server.ws}/ws/docs/{document}?ticket={people['owner'].ticket()}"
    with connect(url, compression="deflate", open_timeout=15) as socket:
        assert "Sec-WebSocket-Extensions" not in socket.response.headers
        assert socket.protocol.extensions == []
        socket.send(protocol.step1(b"\x00"))
        assert socket.recv(timeout=10)[:2] == b"\x00\x01"  # the session works: SyncStep2


def test_websocket_compression_when_enabled_compresses_only_large_messages(env, tmp_path):
    from websockets.sync.client import connect

    from docs_app.collab import protocol

    compressing = SuiteServer(
        dict(env, WS_PER_MESSAGE_DEFLATE="true", WS_DEFLATE_MIN_BYTES="1024"), tmp_path / "z.log"
    ).start()
    try:
        document, people = new_document(compressing, editor="editor")
        base = f"{compressing.ws}/ws/docs/{document}?ticket="
        options = {"compression": "deflate", "max_size": None, "open_timeout": 15}
        with (
            connect(base + people["owner"].ticket(compressing.base), **options) as writer_socket,
            connect(base + people["editor"].ticket(compressing.base), **options) as reader_socket,
        ):
            writer, reader = FrameLog(writer_socket), FrameLog(reader_socket)
            # No context takeover either way: no zlib state stays attached to an idle socket.
            assert "permessage-deflate" in writer.negotiated
            assert "server_no_context_takeover" in writer.negotiated
            assert "client_no_context_takeover" in writer.negotiated

            # The client compresses what it sends (it offered the extension); the server
            # inflates it per message and stores it.
            text = "Compte rendu de la réunion du conseil. " * 150  # ~6 kB, compressible
            writer_doc = pycrdt.Doc()
            writer_doc["text"] = pycrdt.Text()
            writer_doc["text"] += text
            writer_socket.send(protocol.update_message(writer_doc.get_update()))
            deadline = time.monotonic() + 10
            while stored_text(compressing, document) != text:
                assert time.monotonic() < deadline, "the compressed update was not stored"
                time.sleep(0.05)

            # A new client's first sync: the large SyncStep2 is compressed, the server's small
            # SyncStep1 is sent as is.
            step2_prefix = bytes([protocol.MessageType.SYNC, protocol.SyncType.STEP2])
            reader_socket.send(protocol.step1(b"\x00"))
            step1_prefix = bytes([protocol.MessageType.SYNC, protocol.SyncType.STEP1])
            step2 = reader.receive_until(lambda message: message[:2] == step2_prefix)
            step1 = reader.receive_until(lambda message: message[:2] == step1_prefix)
            compressed, wire_size = reader.frame_of(step2)
            assert compressed and wire_size < len(step2) / 3, (wire_size, len(step2))
            assert reader.frame_of(step1) == (False, len(step1))
            doc = pycrdt.Doc()
            doc["text"] = pycrdt.Text()
            doc.apply_update(protocol.Decoder(step2[2:]).varbytes())
            assert str(doc["text"]) == text
    finally:
        compressing.stop()
