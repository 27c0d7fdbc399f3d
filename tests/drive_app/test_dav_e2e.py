"""WebDAV end to end, with real clients against a real ``suite serve`` (uvicorn, a2wsgi,
PostgreSQL, Redis, SeaweedFS): litmus's default groups, an rclone round trip checked
through the REST API, a large PUT streamed with bounded server memory, and the denials
(another user's files, a reader writing, a wrong app password) over HTTP."""

from __future__ import annotations

import base64
import filecmp
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import time
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import requests
from defusedxml import ElementTree as SafeET

from suite.storage.s3.store import S3BlobStore
from tests.servers import SuiteServer, server_env

DATABASE = "communs_dav_e2e"
REDIS_DB = 12
LITMUS_GROUPS = {"basic", "copymove", "props", "locks", "http"}
SUMMARY = re.compile(r"<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(s3_engine, tmp_path_factory):
    env = server_env(
        database=DATABASE, redis_db=REDIS_DB, s3=s3_engine, data_dir=tmp_path_factory.mktemp("dav-e2e"),
        apps="drive", SUITE_TASKS_IN_PROCESS="1",
    )
    process = SuiteServer(env, tmp_path_factory.mktemp("dav-logs") / "server.log")
    process.flush_redis()
    process.start()
    yield process
    process.stop()


class Account:
    """A user of the server with an app password: an API token made with ``suite token
    create``, unscoped (it also serves the REST API) or scoped ``dav``."""

    def __init__(self, server: SuiteServer, name: str, *, scope: str | None = None):
        self.server = server
        self.name = name
        self.scope = scope
        self.email = f"{name}-{uuid.uuid4().hex[:8]}@communs.example"
        self.id = ""
        self.password = ""

    def create(self) -> Account:
        self.id = self.server.suite("user", "create", "--email", self.email, "--name", self.name)
        scope = ["--scope", self.scope] if self.scope else []
        self.password = self.server.suite("token", "create", "--user", self.email, *scope)
        return self

    def dav(self, method: str, path: str, *, auth: tuple[str, str] | None = None, **kwargs) -> requests.Response:
        return requests.request(method, self.url(path), auth=auth or (self.email, self.password), timeout=60, **kwargs)

    def url(self, path: str) -> str:
        return f"{self.server.base}/dav/{quote(path.lstrip('/'))}"

    def api(self, method: str, path: str, **kwargs) -> dict:
        assert self.scope is None, "a dav-scoped token cannot call the REST API"
        response = requests.request(method, f"{self.server.base}/api/v1/drive{path}", timeout=30,
                                    headers={"Authorization": f"Bearer {self.password}"}, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else {}

    def children(self, folder_id: str) -> list[dict]:
        return self.api("get", f"/items/{folder_id}/children/?limit=200")["items"]

    def workspace_id(self) -> str:
        return next(item["id"] for item in self.api("get", "/items/")["items"] if item["workspace"])

    def item_at(self, *titles: str) -> dict:
        folder = {"id": self.workspace_id(), "type": "folder"}
        for title in titles:
            folder = next(child for child in self.children(folder["id"]) if child["title"] == title)
        return folder


#: Creates users with an unscoped token each, in one process (each ``suite`` command starts
#: Django: a few seconds), printing {name: [user id, token]}.
CREATE_ACCOUNTS = """
import json
from suite.identity.services import user_create
from suite.identity.tokens import token_create
created = {}
for name, email in json.loads(%r):
    user = user_create(email=email, full_name=name)
    created[name] = [str(user.pk), token_create(actor=None, user=user, name="desktop", scopes=[])[1]]
print(json.dumps(created))
"""


@pytest.fixture(scope="module")
def accounts(server) -> dict[str, Account]:
    """The module's users. The litmus one gets a ``dav``-scoped app password from the
    commands an administrator uses (``suite user create``, ``suite token create --scope
    dav``); the others unscoped tokens (app passwords and REST API tokens), made in bulk."""
    litmus = Account(server, "litmus", scope="dav")
    others = [Account(server, name) for name in ("rclone", "large", "owner", "stranger", "reader", "guessed", "prober",
                                                 "names")]
    spec = json.dumps([[account.name, account.email] for account in others])
    with ThreadPoolExecutor(max_workers=2) as pool:
        created = pool.submit(server.suite, "manage", "shell", "-c", CREATE_ACCOUNTS % spec)
        pool.submit(litmus.create).result()
        for account in others:
            account.id, account.password = json.loads(created.result())[account.name]
    return {account.name: account for account in (litmus, *others)}


def assert_dav_error(response: requests.Response, status: int, code: str | None = None) -> None:
    """A DAV error: the status, and an RFC 4918 DAV:error XML body with our code."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/xml"), response.headers
    assert b"<D:error" in response.content and b'xmlns:D="DAV:"' in response.content, response.content
    if code is not None:
        assert f"<C:code>{code}</C:code>".encode() in response.content, response.content


# --- litmus ------------------------------------------------------------------------------------------


def test_litmus_passes_every_default_group(accounts, tmp_path):
    """litmus 0.13's default groups against /dav/ (with a ``dav``-scoped app password):
    every test passes (warnings allowed)."""
    litmus = shutil.which("litmus")
    assert litmus, "litmus is required (apt-get install litmus)"
    account = accounts["litmus"]
    result = subprocess.run(
        [litmus, "-k", account.url(""), account.email, account.password],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    summaries = {group: (int(run), int(passed), int(failed)) for group, run, passed, failed in SUMMARY.findall(result.stdout)}
    print("\n".join(line for line in result.stdout.splitlines() if line.startswith("<- summary")))
    assert set(summaries) == LITMUS_GROUPS, result.stdout + result.stderr
    for group, (run, passed, failed) in summaries.items():
        assert failed == 0 and passed == run and run > 1, f"{group}: {run} run, {failed} failed\n{result.stdout}"


# --- rclone ------------------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, tuple[int, str]]:
    """Relative path → (size, SHA-256) of every file below ``root``."""
    return {
        path.relative_to(root).as_posix(): (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(root.rglob("*")) if path.is_file()
    }


def _api_tree(account: Account, folder_id: str, prefix: str = "") -> tuple[dict[str, tuple[int, str]], set[str]]:
    files, folders = {}, set()
    for child in account.children(folder_id):
        path = f"{prefix}{child['title']}"
        if child["type"] == "folder":
            folders.add(path)
            sub_files, sub_folders = _api_tree(account, child["id"], path + "/")
            files.update(sub_files)
            folders |= sub_folders
        else:
            assert child["upload_state"] == "ready", child
            files[path] = (child["size"], child["sha256"])
    return files, folders


def _rclone(account: Account, *args: str) -> None:
    rclone = shutil.which("rclone")
    assert rclone, "rclone is required (apt-get install rclone)"
    obscured = subprocess.run([rclone, "obscure", account.password], capture_output=True, text=True, check=True).stdout.strip()
    env = {
        **os.environ,
        "RCLONE_CONFIG": os.devnull,
        "RCLONE_CONFIG_COMMUNS_TYPE": "webdav",
        "RCLONE_CONFIG_COMMUNS_URL": account.url(""),
        "RCLONE_CONFIG_COMMUNS_VENDOR": "other",
        "RCLONE_CONFIG_COMMUNS_USER": account.email,
        "RCLONE_CONFIG_COMMUNS_PASS": obscured,
    }
    result = subprocess.run([rclone, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_rclone_sync_up_change_sync_and_back_down(accounts, tmp_path):
    """Nested folders with UTF-8 names go up, change, go up again and come back down
    identical; the REST API shows the same files with the right sizes and checksums, and
    the overwritten file has a version per upload."""
    account = accounts["rclone"]
    local = tmp_path / "local"
    _write(local / "Été" / "café.txt", "crème brûlée\n".encode())
    _write(local / "Été" / "日本語" / "深い" / "ノート.md", "# 見出し\n".encode())
    _write(local / "emoji 🎉" / "données.bin", os.urandom(300_000))
    _write(local / "docs" / "sub dir" / "x y.dat", os.urandom(70_000))
    _write(local / "docs" / "empty.txt", b"")
    (local / "Ελληνικά" / "κενός").mkdir(parents=True)

    # given: the tree is synced up
    _rclone(account, "sync", str(local), "communs:tree", "--create-empty-src-dirs")
    files, folders = _api_tree(account, account.item_at("tree")["id"])
    assert files == _tree(local)
    assert "Ελληνικά/κενός" in folders

    # when: it changes (an edit, a deletion, a rename, new files and folders) and syncs again
    _write(local / "Été" / "café.txt", "crème brûlée, deuxième version\n".encode())
    (local / "docs" / "sub dir" / "x y.dat").unlink()
    (local / "emoji 🎉").rename(local / "emoji 🎊")
    _write(local / "nouveau" / "ñandú" / "n.txt", b"new\n")
    _rclone(account, "sync", str(local), "communs:tree", "--create-empty-src-dirs")

    # then: the drive holds exactly the new tree, with a version per upload of the edit
    files, folders = _api_tree(account, account.item_at("tree")["id"])
    assert files == _tree(local)
    assert "emoji 🎉" not in folders and "emoji 🎊" in folders
    cafe = account.item_at("tree", "Été", "café.txt")
    assert len(account.api("get", f"/items/{cafe['id']}/versions/?limit=200")["items"]) == 2

    # and: syncing down into an empty folder gives the same tree, byte for byte
    down = tmp_path / "down"
    _rclone(account, "sync", "communs:tree", str(down), "--create-empty-src-dirs")
    comparison = filecmp.dircmp(local, down)
    assert _tree(down) == _tree(local)
    assert sorted(p.relative_to(down).as_posix() for p in down.rglob("*") if p.is_dir()) == sorted(
        p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_dir()
    ), comparison.report()
    _rclone(account, "check", str(local), "communs:tree", "--download")


def test_names_with_url_delimiters_are_whole_names_over_http(accounts):
    """The ASGI server decodes the request path, WsgiDAV decodes the Destination before
    parsing it: a name with ``;``, ``?``, ``#``, ``%``, ``+``, spaces or in NFD is the whole
    name either way (a MOVE to ``semi%3B...`` created ``semi``, replacing the file there)."""
    account = accounts["names"]
    name = "semi;colon?query#hash 100% a+b.txt"
    assert account.dav("mkcol", "dir;1?#").status_code == 201
    assert account.dav("put", "dir;1?#/source.txt", data=b"source").status_code == 201
    assert account.dav("put", "semi", data=b"decoy").status_code == 201

    moved = account.dav("move", "dir;1?#/source.txt", headers={"Destination": account.url(name), "Overwrite": "T"})
    copied = account.dav("copy", name, headers={
        "Destination": account.url(unicodedata.normalize("NFD", "dir;1?#/café;1?.txt"))})

    assert (moved.status_code, copied.status_code) == (201, 201), (moved.text, copied.text)
    assert account.dav("get", name).content == b"source"
    assert account.dav("get", "semi").content == b"decoy"
    assert account.dav("get", "dir;1?#/café;1?.txt").content == b"source"
    listing = account.dav("propfind", "", headers={"Depth": "1"})
    hrefs = sorted(unquote(href.text) for href in SafeET.fromstring(listing.content).iter("{DAV:}href"))
    assert hrefs == sorted(["/dav/", "/dav/dir;1?#/", f"/dav/{name}", "/dav/semi"])
    assert [child["title"] for child in account.children(account.item_at("dir;1?#")["id"])] == ["café;1?.txt"]
    # A client that does not percent-encode: the name's UTF-8 bytes in the header.
    raw = account.dav("move", name, headers={"Destination": f"{account.server.base}/dav/été;2 x.txt".encode()})
    assert raw.status_code == 201, raw.text
    assert account.dav("get", "été;2 x.txt").content == b"source"


# --- large bodies ----------------------------------------------------------------------------------


class RandomBody:
    """``size`` bytes (a random MiB, repeated) produced as they are read: the client never
    holds the body either."""

    def __init__(self, size: int):
        self.size = size
        self.sent = 0
        self.digest = hashlib.sha256()
        self.block = os.urandom(MIB)

    def __len__(self) -> int:
        return self.size

    def read(self, amount: int = -1) -> bytes:
        left = self.size - self.sent
        amount = left if amount is None or amount < 0 else min(amount, left)
        offset = self.sent % MIB
        chunk = self.block[offset : offset + amount]
        self.sent += len(chunk)
        self.digest.update(chunk)
        return chunk


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))


def _reset_peak_rss(pid: int) -> None:
    # Writing 5 to clear_refs resets the peak resident set size (VmHWM) of the process.
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _put_measuring_peak(account: Account, pid: int, path: str, body: RandomBody) -> float:
    """PUT ``body``; how much the server's peak memory grew meanwhile, in MiB."""
    _reset_peak_rss(pid)
    before = _peak_rss_kib(pid)
    response = account.dav("put", path, data=body)
    assert response.status_code == 201, response.text
    return (_peak_rss_kib(pid) - before) / 1024


def test_large_put_streams_to_s3_with_bounded_memory(server, accounts):
    """PUT bodies go to S3 in parts as they arrive: the server's peak memory grows by the
    store's part buffers whatever the size (the same for 64 and 256 MiB), never by the
    body; the stored file has the right size and checksum; a ranged GET reads a slice."""
    account = accounts["large"]
    pid = server.process.pid
    # One unmeasured PUT first: the store's transfer threads and their allocator arenas are
    # created once per process; the two measured PUTs then compare the steady state.
    _put_measuring_peak(account, pid, "warm-up.bin", RandomBody(24 * MIB))
    small = _put_measuring_peak(account, pid, "small.bin", RandomBody(64 * MIB))
    body = RandomBody(256 * MIB)
    started = time.monotonic()
    large = _put_measuring_peak(account, pid, "large.bin", body)
    print(f"server peak memory: +{small:.0f} MiB for a 64 MiB PUT, +{large:.0f} MiB for a 256 MiB PUT "
          f"({time.monotonic() - started:.1f} s)")
    assert large < 128, large  # half the body: a buffered body would need all of it
    # No growth with the size: at most the store's part buffers (parts in flight plus parts
    # queued for them, S3BlobStore.upload_concurrency and TransferConfig's in-memory chunks)
    # and 32 MiB of working memory, for both sizes. (Comparing the two sizes directly is
    # noisy: 64 MiB is only 8 parts, which under load rarely fill the queue that 32 parts do.)
    parts = S3BlobStore.upload_concurrency + (S3BlobStore.upload_concurrency + 1)
    bound = parts * S3BlobStore.upload_part_size / MIB + 32
    assert small < bound and large < bound, (small, large, bound)
    item = account.item_at("large.bin")
    assert (item["size"], item["sha256"]) == (256 * MIB, body.digest.hexdigest())

    ranged = account.dav("get", "large.bin", headers={"Range": f"bytes={100 * MIB}-{100 * MIB + 9}"})
    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes {100 * MIB}-{100 * MIB + 9}/{256 * MIB}"
    assert ranged.content == body.block[:10]


# --- denials over HTTP -------------------------------------------------------------------------------


def test_another_users_files_do_not_exist(accounts):
    owner, stranger = accounts["owner"], accounts["stranger"]
    assert owner.dav("mkcol", "Private").status_code == 201
    assert owner.dav("put", "Private/secret.txt", data=b"secret").status_code == 201

    listing = stranger.dav("propfind", "", headers={"Depth": "1"})
    assert listing.status_code == 207 and b"Private" not in listing.content
    assert_dav_error(stranger.dav("get", "Private/secret.txt"), 404, "not_found")
    assert_dav_error(stranger.dav("propfind", "Private", headers={"Depth": "0"}), 404)
    assert_dav_error(stranger.dav("delete", "Private"), 404)
    # The stranger's own namespace: a PUT there creates the stranger's own file.
    assert stranger.dav("put", "Private.txt", data=b"mine").status_code == 201
    assert owner.dav("get", "Private/secret.txt").content == b"secret"


def test_reader_cannot_write_in_a_shared_folder(accounts):
    owner, reader = accounts["owner"], accounts["reader"]
    assert owner.dav("mkcol", "Shared").status_code == 201
    assert owner.dav("put", "Shared/plan.txt", data=b"v1").status_code == 201
    owner.api("post", f"/items/{owner.item_at('Shared')['id']}/accesses/", json={"user": reader.id, "role": "reader"})

    assert reader.dav("get", "Shared/plan.txt").content == b"v1"
    assert_dav_error(reader.dav("put", "Shared/plan.txt", data=b"v2"), 403, "permission_denied")
    assert_dav_error(reader.dav("put", "Shared/new.txt", data=b"new"), 403)
    assert_dav_error(reader.dav("mkcol", "Shared/sub"), 403)
    assert_dav_error(reader.dav("delete", "Shared/plan.txt"), 403)
    assert_dav_error(reader.dav("move", "Shared/plan.txt", headers={"Destination": reader.url("Shared/p.txt")}), 403)
    proppatch = reader.dav("proppatch", "Shared/plan.txt", data=(
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test">'
        "<D:set><D:prop><Z:color>red</Z:color></D:prop></D:set></D:propertyupdate>"
    ))
    assert proppatch.status_code == 207 and b"403 Forbidden" in proppatch.content
    lock = reader.dav("lock", "Shared/plan.txt", data=(
        '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
        "<D:locktype><D:write/></D:locktype></D:lockinfo>"
    ))
    assert_dav_error(lock, 403)
    assert owner.dav("get", "Shared/plan.txt").content == b"v1"


def test_wrong_app_password_is_refused_then_rate_limited(accounts):
    account = accounts["guessed"]
    response = account.dav("propfind", "", auth=(account.email, "cmn_00000000_wrong"), headers={"Depth": "0"})
    assert_dav_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    for _attempt in range(9):
        assert account.dav("propfind", "", auth=(account.email, "nope"), headers={"Depth": "0"}).status_code == 401
    # Past 10 failures the right password is not even checked.
    limited = account.dav("propfind", "", headers={"Depth": "0"})
    assert_dav_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0


# --- malformed requests over HTTP ----------------------------------------------------------------


def _raw(server: SuiteServer, method: str, target: str, headers: dict[str, str] | None = None,
         body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request with ``target`` sent as written (requests would remove its dot segments);
    the body read whole (a body shorter than its Content-Length raises IncompleteRead)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_malformed_requests_get_whole_dav_errors_and_log_no_failure(server, accounts):
    """Even signed out, ``..`` above /dav/ is a complete 400 (the ASGI server logged a
    RuntimeError and the client saw a truncated body); a NUL in the path, a Destination that
    is not a URL, a range past the end or XML nested 1,000 levels deep are clean 4xx, and a
    PUT's 201 has no body: nothing of WsgiDAV's pages, nothing in the server's error log."""
    account = accounts["prober"]
    auth = {"Authorization": "Basic " + base64.b64encode(f"{account.email}:{account.password}".encode()).decode()}
    logged = len(server.log())
    for target in ("/dav/../x", "/dav/%2e%2e/x", "/dav/a/%2E%2E/%2e%2e/etc/passwd"):
        status, headers, body = _raw(server, "GET", target)
        assert (status, headers["content-type"]) == (400, "application/xml; charset=utf-8"), (target, body)
        assert b"<C:code>invalid_path</C:code>" in body and int(headers["content-length"]) == len(body)

    status, headers, body = _raw(server, "PUT", "/dav/probe.txt", auth, b"0123456789")
    assert (status, body, headers["content-length"]) == (201, b"", "0") and "content-type" not in headers
    refusals = [
        (_raw(server, "MKCOL", "/dav/new%00dir", auth), 400, "invalid_path"),
        (_raw(server, "COPY", "/dav/probe.txt", {**auth, "Destination": "http://[::1"}), 400, "invalid_header"),
        (_raw(server, "GET", "/dav/probe.txt", {**auth, "Range": "bytes=-0"}), 416, "range_not_satisfiable"),
        (_raw(server, "PROPPATCH", "/dav/probe.txt", auth, (
            '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test"><D:set><D:prop><Z:p>'
            + "<Z:n>" * 1000 + "</Z:n>" * 1000 + "</Z:p></D:prop></D:set></D:propertyupdate>").encode()), 400, "xml_too_deep"),
    ]
    for (status, headers, body), expected, code in refusals:
        assert status == expected and f"<C:code>{code}</C:code>".encode() in body, (status, body)
        assert int(headers["content-length"]) == len(body) and b"Error" not in body.replace(b"D:error", b"")
    assert refusals[2][0][1]["content-range"] == "bytes */10"
    new_log = server.log()[logged:]
    assert "Exception in ASGI application" not in new_log and "DAV request failed" not in new_log, new_log
