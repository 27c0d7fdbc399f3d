"""WOPI proof keys: the office server signs its requests, the host checks the signature.

The discovery served by the test's office server publishes RSA keys generated here; the
requests are signed with their private halves exactly as an office server signs them
(MS-WOPI "Verifying that requests originate from Office for the web by using proof keys",
as Collabora Online and OnlyOffice implement it): the access token, the upper-cased URL
and the ``X-WOPI-TimeStamp`` ticks, each after its 4-byte big-endian length, RSA PKCS#1
v1.5 over SHA-256. The signer below is written from that text, not from the host's code.
"""

from __future__ import annotations

import base64
import struct
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings as django_settings
from django.test import RequestFactory

from drive_app.models import FileVersion
from drive_app.wopi import discovery, proof
from tests.conftest import assert_error
from tests.drive_app import test_wopi
from tests.drive_app.test_wopi import DISCOVERY_XML, V1, V2, Editor, body_of

pytestmark = pytest.mark.django_db(transaction=True)
office, team = test_wopi.office, test_wopi.team  # the office server and the shared folder

UNIX_EPOCH_TICKS = 621_355_968_000_000_000  # 0001-01-01 to 1970-01-01 in 100 ns ticks


def _key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


CURRENT, OLD, NEXT, STRANGER = _key(), _key(), _key(), _key()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _integer(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _capi_blob(key: rsa.RSAPrivateKey) -> bytes:
    """The .NET ``ExportCspBlob`` form of the public key (``value``), which hosts ignore."""
    numbers = key.public_key().public_numbers()
    header = bytes([0x06, 0x02, 0, 0]) + struct.pack("<I", 0xA400) + b"RSA1"
    return (
        header
        + struct.pack("<II", key.key_size, numbers.e)
        + numbers.n.to_bytes(key.key_size // 8, "little")
    )


def proof_key_element(current: rsa.RSAPrivateKey, old: rsa.RSAPrivateKey | None = None) -> str:
    def attributes(prefix: str, key: rsa.RSAPrivateKey) -> str:
        numbers = key.public_key().public_numbers()
        return (
            f'{prefix}value="{b64(_capi_blob(key))}" {prefix}modulus="{b64(_integer(numbers.n))}" '
            f'{prefix}exponent="{b64(_integer(numbers.e))}"'
        )

    return f"<proof-key {attributes('', current)} {attributes('old', old) if old else ''}/>"


def discovery_with(
    current: rsa.RSAPrivateKey | None, old: rsa.RSAPrivateKey | None = None
) -> bytes:
    """The test discovery, publishing ``current`` (and ``old``) as Collabora does."""
    if current is None:
        return DISCOVERY_XML
    return DISCOVERY_XML.replace(
        b"</wopi-discovery>", f"  {proof_key_element(current, old)}\n</wopi-discovery>".encode()
    )


def ticks(at: float | None = None) -> int:
    """``DateTime.UtcNow.Ticks``: 100 ns intervals since 0001-01-01 UTC."""
    return int((time.time() if at is None else at) * 10_000_000) + UNIX_EPOCH_TICKS


def sign(key: rsa.RSAPrivateKey, *, access_token: str, url: str, timestamp: int) -> str:
    token, upper = access_token.encode("utf-8"), url.upper().encode("utf-8")
    data = (
        struct.pack(">i", len(token))
        + token
        + struct.pack(">i", len(upper))
        + upper
        + struct.pack(">i", 8)
        + struct.pack(">q", timestamp)
    )
    return b64(key.sign(data, padding.PKCS1v15(), hashes.SHA256()))


class OfficeServer:
    """The client an :class:`Editor` calls through, adding the proof headers an office server
    adds: ``X-WOPI-Proof`` signed with ``proof_key``, ``X-WOPI-ProofOld`` with
    ``proof_old_key`` (a header is left out when its key is ``None``), over the URL it
    requests (``base`` + path and query; ``base`` is ``WOPI_HOST_URL`` unless set).
    ``tamper_url`` and ``tamper_token`` change the URL and token that are signed, ``age``
    makes the timestamp that many seconds old, ``headers`` overrides the headers sent."""

    def __init__(self, client, proof_key=CURRENT, proof_old_key=OLD):
        self.client = client
        self.proof_key, self.proof_old_key = proof_key, proof_old_key
        self.base: str | None = None
        self.tamper_url = lambda url: url
        self.tamper_token = lambda token: token
        self.age = 0.0
        self.headers: dict[str, str] = {}

    def _proof_headers(self, path: str) -> dict[str, str]:
        url = self.tamper_url((self.base or django_settings.WOPI_HOST_URL) + path)
        token = self.tamper_token(parse_qs(urlsplit(path).query)["access_token"][0])
        timestamp = ticks(time.time() - self.age)
        headers = {"X-WOPI-TimeStamp": str(timestamp)}
        for name, key in (
            ("X-WOPI-Proof", self.proof_key),
            ("X-WOPI-ProofOld", self.proof_old_key),
        ):
            if key is not None:
                headers[name] = sign(key, access_token=token, url=url, timestamp=timestamp)
        return {**headers, **self.headers}

    def get(self, path, headers=None, **extra):
        return self.client.get(
            path, headers={**(headers or {}), **self._proof_headers(path)}, **extra
        )

    def post(self, path, data=None, content_type=None, headers=None, **extra):
        return self.client.post(
            path,
            data=data,
            content_type=content_type,
            headers={**(headers or {}), **self._proof_headers(path)},
            **extra,
        )


@pytest.fixture
def signing(office):
    """The office server publishes ``CURRENT`` and ``OLD`` (the key before it)."""
    office.body = discovery_with(CURRENT, OLD)
    return office


def open_editor(client, api, team, **keys) -> tuple[Editor, OfficeServer]:
    server = OfficeServer(client, **keys)
    editor, _session = Editor.open(server, api, team.editor, team.doc.pk)
    return editor, server


def refused(response, reason: str) -> dict:
    error = assert_error(response, 500, "wopi_invalid_proof")
    assert error["details"] == {"reason": reason}
    return error


# --- accepted ---------------------------------------------------------------------------------------------


def test_a_signed_editing_session_is_accepted(api, client, signing, team):
    editor, _server = open_editor(client, api, team)
    info = editor.check_file_info()
    assert info.status_code == 200, info.content
    assert body_of(editor.get_file()) == V1
    assert editor.lock("lock-A").status_code == 200
    assert editor.put_file(V2, lock_id="lock-A").status_code == 200
    assert editor.unlock("lock-A").status_code == 200
    assert FileVersion.objects.filter(item=team.doc).count() == 2
    # Verified with the cached keys: the discovery was read once, when the file was opened.
    assert signing.hits == 1


def test_proof_old_with_the_current_key_is_accepted(api, client, signing, team):
    """The office server has rotated its keys (it signs with a key this host has not seen,
    and with the previous one, which is this host's current key)."""
    editor, _server = open_editor(client, api, team, proof_key=NEXT, proof_old_key=CURRENT)
    assert editor.check_file_info().status_code == 200
    assert signing.hits == 1


def test_proof_with_the_old_key_is_accepted(api, client, signing, team):
    """The host has seen a rotation the office server's machine has not yet."""
    editor, server = open_editor(client, api, team, proof_key=OLD, proof_old_key=None)
    assert editor.check_file_info().status_code == 200
    server.headers = {"X-WOPI-ProofOld": b64(b"garbage" * 40)}
    assert editor.check_file_info().status_code == 200


def test_rotated_keys_are_fetched_again_once(api, client, signing, team):
    """The office server restarts with a new key after its discovery was cached: the first
    request that fails with the cached key makes the host read the discovery again."""
    editor, server = open_editor(client, api, team, proof_key=NEXT, proof_old_key=NEXT)
    signing.body = discovery_with(NEXT)
    assert editor.check_file_info().status_code == 200
    assert signing.hits == 2
    assert editor.lock("lock-A").status_code == 200
    assert signing.hits == 2  # the new key is cached
    # The old key is no longer published: its signatures are refused now.
    server.proof_key = server.proof_old_key = CURRENT
    refused(editor.get_lock(), "proof")


def test_without_a_proof_key_unsigned_requests_are_accepted(api, client, office, team):
    """The default (verify-when-offered) with an office server that does not sign."""
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    assert editor.check_file_info().status_code == 200
    assert editor.lock("lock-A").status_code == 200
    assert office.hits == 1
    # A request that carries a proof makes the host look whether a key was published since
    # (at most once every REFRESH_SECONDS); there is none: accepted as before.
    signed, _server = open_editor(client, api, team, proof_key=STRANGER, proof_old_key=None)
    assert signed.check_file_info().status_code == 200
    assert signed.check_file_info().status_code == 200
    assert office.hits == 2


def test_a_key_published_after_caching_is_used_at_the_first_signed_request(
    api, client, office, team
):
    editor, server = open_editor(client, api, team, proof_key=STRANGER, proof_old_key=None)
    office.body = discovery_with(CURRENT)
    refused(editor.check_file_info(), "proof")
    server.proof_key = CURRENT
    assert editor.check_file_info().status_code == 200


def test_off_never_checks(api, client, signing, team, settings):
    settings.WOPI_PROOF_KEYS = "off"
    editor, server = open_editor(client, api, team, proof_key=STRANGER, proof_old_key=STRANGER)
    assert editor.check_file_info().status_code == 200
    server.headers = {"X-WOPI-TimeStamp": "yesterday"}
    assert editor.check_file_info().status_code == 200
    assert signing.hits == 1


def test_required_with_a_key_accepts_signed_requests(api, client, signing, team, settings):
    settings.WOPI_PROOF_KEYS = "required"
    editor, _server = open_editor(client, api, team)
    assert editor.check_file_info().status_code == 200


# --- refused ----------------------------------------------------------------------------------------------


def test_a_wrong_signature_is_refused_and_nothing_is_written(api, client, signing, team):
    editor, server = open_editor(client, api, team)
    assert editor.lock("lock-A").status_code == 200
    server.proof_key = server.proof_old_key = STRANGER
    error = refused(editor.put_file(V2, lock_id="lock-A"), "proof")
    assert "X-WOPI-Proof" in error["message"]
    assert FileVersion.objects.filter(item=team.doc).count() == 1
    refused(editor.get_file(), "proof")
    refused(editor.check_file_info(), "proof")
    # The first failure read the discovery again (a rotation?), the next ones did not: at most
    # one refresh every REFRESH_SECONDS, whatever the number of forged requests.
    assert signing.hits == 2


def test_proof_old_with_the_old_key_alone_is_refused(api, client, signing, team):
    """The specification's ProofKeyCurrentGarbageValidOldFromOldKey case."""
    editor, _server = open_editor(client, api, team, proof_key=STRANGER, proof_old_key=OLD)
    refused(editor.check_file_info(), "proof")


@pytest.mark.parametrize(
    ("age", "accepted"), [(19 * 60, True), (21 * 60, False), (-60, True), (-10 * 60, False)]
)
def test_the_timestamp_must_be_of_the_last_20_minutes(api, client, signing, team, age, accepted):
    editor, server = open_editor(client, api, team)
    server.age = age
    response = editor.check_file_info()
    if accepted:
        assert response.status_code == 200, response.content
    else:
        refused(response, "timestamp")
        assert signing.hits == 1  # a stale request is no sign of rotated keys


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-WOPI-Proof": "", "X-WOPI-ProofOld": ""}, "proof"),
        ({"X-WOPI-Proof": "not base64 !", "X-WOPI-ProofOld": "%%%"}, "proof"),
        ({"X-WOPI-Proof": b64(b"\0" * 256), "X-WOPI-ProofOld": b64(b"short")}, "proof"),
        ({"X-WOPI-TimeStamp": ""}, "timestamp"),
        ({"X-WOPI-TimeStamp": "tomorrow"}, "timestamp"),
        ({"X-WOPI-TimeStamp": "-638500000000000000"}, "timestamp"),
        ({"X-WOPI-TimeStamp": "6.385e17"}, "timestamp"),
        ({"X-WOPI-TimeStamp": "9" * 19}, "timestamp"),
        ({"X-WOPI-TimeStamp": "9" * 40}, "timestamp"),
    ],
)
def test_missing_or_malformed_proof_headers_are_refused(
    api, client, signing, team, headers, reason
):
    editor, server = open_editor(client, api, team)
    server.headers = headers
    refused(editor.check_file_info(), reason)


def test_an_unsigned_request_is_refused_when_a_key_is_published(api, client, signing, team):
    unsigned, _session = Editor.open(client, api, team.editor, team.doc.pk)
    refused(unsigned.check_file_info(), "timestamp")
    timestamped_only, _server = open_editor(client, api, team, proof_key=None, proof_old_key=None)
    refused(timestamped_only.check_file_info(), "proof")


def test_a_signature_over_another_url_or_token_is_refused(api, client, signing, team):
    editor, server = open_editor(client, api, team)
    assert editor.check_file_info().status_code == 200
    # A CheckFileInfo signature replayed on GetFile, another file, another query string.
    server.tamper_url = lambda url: url.replace("/contents", "")
    refused(editor.get_file(), "proof")
    server.tamper_url = lambda url: url.replace(str(team.doc.pk), str(team.folder.pk))
    refused(editor.check_file_info(), "proof")
    server.tamper_url = lambda url: url + "&access_token_ttl=0"
    refused(editor.check_file_info(), "proof")
    server.tamper_url = lambda url: url.replace("http://", "https://")
    refused(editor.check_file_info(), "proof")
    # Another token signed (a request signed for another user's session).
    server.tamper_url = lambda url: url
    server.tamper_token = lambda token: token + "x"
    refused(editor.check_file_info(), "proof")


def test_required_without_a_proof_key_refuses_every_request(api, client, office, team, settings):
    settings.WOPI_PROOF_KEYS = "required"
    editor, _server = open_editor(client, api, team)
    error = refused(editor.check_file_info(), "no_key")
    assert "WOPI_PROOF_KEYS" in error["message"]
    refused(Editor.open(client, api, team.editor, team.doc.pk)[0].lock("lock-A"), "no_key")


def test_a_key_too_short_to_trust_refuses_every_request(api, client, office, team):
    weak = _key(1024)
    office.body = discovery_with(weak)
    editor, _server = open_editor(client, api, team, proof_key=weak, proof_old_key=weak)
    refused(editor.check_file_info(), "unusable_key")


def test_the_token_is_checked_before_the_proof(api, client, signing, team):
    """A request without a valid token cannot make the host fetch the discovery."""
    server = OfficeServer(client, proof_key=STRANGER)
    forged = Editor(server, f"http://testserver/wopi/files/{team.doc.pk}", "not-a-token")
    assert_error(forged.check_file_info(), 401, "wopi_invalid_token")
    assert signing.hits == 0


# --- the URL that is signed ---------------------------------------------------------------------------------


def test_behind_a_proxy_the_signed_url_is_the_wopi_host_url(api, client, signing, team, settings):
    """TLS ends at a proxy: the office server calls https://drive.example.org/wopi/..., the
    application sees http://testserver/wopi/...; the signature is over the former."""
    settings.WOPI_HOST_URL = "https://drive.example.org"
    editor, server = open_editor(client, api, team)
    assert editor.path == f"/wopi/files/{team.doc.pk}"
    assert editor.check_file_info().status_code == 200
    server.base = "http://testserver"
    refused(editor.check_file_info(), "proof")


@pytest.mark.parametrize(
    ("host_url", "signed"),
    [
        (
            "http://testserver",
            "http://testserver/wopi/files/f1/contents?access_token=a%3Ab&access_token_ttl=1",
        ),
        (
            "https://Drive.example.org:443/suite",
            "https://Drive.example.org/suite/wopi/files/f1/contents"
            "?access_token=a%3Ab&access_token_ttl=1",
        ),
        (
            "http://drive.example.org:80",
            "http://drive.example.org/wopi/files/f1/contents?access_token=a%3Ab&access_token_ttl=1",
        ),
        (
            "http://[::1]:8080",
            "http://[::1]:8080/wopi/files/f1/contents?access_token=a%3Ab&access_token_ttl=1",
        ),
    ],
)
def test_signed_url_is_the_wopi_host_url_and_the_request_path_and_query(settings, host_url, signed):
    settings.WOPI_HOST_URL = host_url
    request = RequestFactory().get("/wopi/files/f1/contents?access_token=a%3Ab&access_token_ttl=1")
    assert proof.signed_url(request) == signed
    # Mounted below a prefix (SCRIPT_NAME): the path the office server called is in WOPI_HOST_URL.
    request = RequestFactory().get("/wopi/files/f1", SCRIPT_NAME="/suite")
    assert request.path == "/suite/wopi/files/f1"
    settings.WOPI_HOST_URL = "https://drive.example.org/suite"
    assert proof.signed_url(request) == "https://drive.example.org/suite/wopi/files/f1"


def test_the_signed_bytes_follow_the_specification():
    url = "https://h.example/wopi/files/1?access_token=t%3Aé"  # 49 characters, 50 bytes
    data = proof.expected_proof(access_token="t:é", url=url, timestamp=0x0102030405060708)
    assert data == (
        b"\x00\x00\x00\x04"
        + b"t:\xc3\xa9"
        + b"\x00\x00\x00\x32"
        + b"HTTPS://H.EXAMPLE/WOPI/FILES/1?ACCESS_TOKEN=T%3A\xc3\xa9"
        + b"\x00\x00\x00\x08"
        + b"\x01\x02\x03\x04\x05\x06\x07\x08"
    )


def test_the_discovery_proof_key_is_parsed():
    parsed = discovery.parse(discovery_with(CURRENT, OLD)).proof_key
    assert parsed is not None
    assert (
        proof.public_key(parsed.modulus, parsed.exponent).public_numbers()
        == CURRENT.public_key().public_numbers()
    )
    assert proof.public_key(parsed.old_modulus, parsed.old_exponent).public_numbers() == (
        OLD.public_key().public_numbers()
    )
    assert discovery.parse(discovery_with(CURRENT)).proof_key.old_modulus == ""
    assert discovery.parse(DISCOVERY_XML).proof_key is None
    empty = DISCOVERY_XML.replace(
        b"</wopi-discovery>", b'<proof-key value="" modulus=""/></wopi-discovery>'
    )
    assert discovery.parse(empty).proof_key is None
    assert proof.public_key("not base64!", "AQAB") is None
