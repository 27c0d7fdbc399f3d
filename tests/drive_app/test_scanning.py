"""Malware scanning against a real clamd (custom one-signature database) and a real S3."""

from __future__ import annotations

import hashlib
import os
import socket
import tracemalloc

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from drive_app.models import FileVersion, ItemType, UploadState
from drive_app.scanning import (
    SCAN_CHUNK_SIZE,
    ClamdScanner,
    NoopScanner,
    ScanLimitExceeded,
    ScannerError,
    ScanResult,
    get_scanner,
    parse_address,
)
from drive_app.services.uploads import analyze
from suite.embedded.engines import free_port
from suite.errors import suite_error_response
from suite.storage import get_blob_store
from tests.drive_app.clamd import EICAR, REPORTED_SIGNATURE, clamd, start_clamd  # noqa: F401
from tests.drive_app.factories import make_item, make_workspace
from tests.factories import UserFactory

MiB = 1024 * 1024
INFECTED = ScanResult(clean=False, signature=REPORTED_SIGNATURE)


def chunks_of(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture(params=["unix", "tcp"])
def scanner(request, clamd):  # noqa: F811 -- the imported fixture
    """A ClamdScanner on the session's clamd, over its unix socket and over TCP."""
    if request.param == "unix":
        return ClamdScanner(socket_path=clamd["socket"], timeout=10)
    return ClamdScanner(address=clamd["address"], timeout=10)


@pytest.fixture(scope="module")
def limited_clamd(tmp_path_factory):
    """A second clamd whose INSTREAM limit is 10 KiB."""
    server = start_clamd(tmp_path_factory.mktemp("clamd-limited"), stream_max_length="10K")
    yield server
    server.stop()


# --- verdicts ------------------------------------------------------------------------------------


def test_scan_clean_file_is_clean(scanner):
    assert scanner.scan([b"Bonjour, ceci est un fichier ordinaire.\n"]) == ScanResult(clean=True)


def test_scan_empty_file_is_clean(scanner):
    assert scanner.scan([]) == ScanResult(clean=True)


def test_scan_eicar_is_infected_with_its_signature_name(scanner):
    assert scanner.scan([EICAR]) == INFECTED


def test_scan_eicar_across_chunk_boundaries_is_infected(scanner):
    """EICAR inside a larger file, starting 30 bytes before the end of the first 64 KiB
    chunk, so the stream splits it in two."""
    offset = SCAN_CHUNK_SIZE - 30
    data = os.urandom(offset) + EICAR + os.urandom(3 * SCAN_CHUNK_SIZE)
    chunks = list(chunks_of(data, SCAN_CHUNK_SIZE))
    assert EICAR not in chunks[0] and EICAR not in chunks[1]

    assert scanner.scan(chunks) == INFECTED


def test_scan_eicar_in_small_odd_sized_chunks_is_infected(scanner):
    data = b"x" * 1000 + EICAR + b"y" * 1000

    assert scanner.scan(chunks_of(data, 7)) == INFECTED


def test_scan_chunks_larger_than_the_wire_chunk_are_split(scanner):
    data = os.urandom(3 * SCAN_CHUNK_SIZE + 5) + EICAR

    assert scanner.scan([data]) == INFECTED


def test_scan_empty_chunks_do_not_end_the_stream(scanner):
    """A zero length ends an INSTREAM: an empty chunk sent as is would hide what follows."""
    assert scanner.scan([b"head", b"", b"", EICAR, b""]) == INFECTED


def test_scan_large_clean_stream_is_clean(scanner):
    block = os.urandom(MiB)

    assert scanner.scan(block for _ in range(20)) == ScanResult(clean=True)


def test_noop_scanner_declares_everything_clean():
    assert NoopScanner().scan([EICAR]) == ScanResult(clean=True)
    assert NoopScanner().ping() is True


# --- failures: no verdict, fail closed -----------------------------------------------------------


def test_ping_answers(scanner):
    assert scanner.ping() is True


def test_ping_is_false_when_clamd_is_unreachable(tmp_path):
    assert ClamdScanner(socket_path=str(tmp_path / "missing.sock"), timeout=1).ping() is False
    assert ClamdScanner(address=("127.0.0.1", free_port()), timeout=1).ping() is False


def test_scan_missing_unix_socket_raises_scanner_error(tmp_path):
    scanner = ClamdScanner(socket_path=str(tmp_path / "missing.sock"), timeout=1)

    with pytest.raises(ScannerError) as caught:
        scanner.scan([b"data"])

    assert "cannot connect" in caught.value.details["reason"]


def test_scan_closed_tcp_port_raises_scanner_error():
    scanner = ClamdScanner(address=("127.0.0.1", free_port()), timeout=1)

    with pytest.raises(ScannerError):
        scanner.scan([b"data"])


def test_scan_silent_peer_times_out_with_scanner_error():
    """A listener that never answers (a hung daemon): the timeout ends the wait."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        scanner = ClamdScanner(address=listener.getsockname(), timeout=0.3)

        with pytest.raises(ScannerError):
            scanner.scan([b"data"])


def test_scan_stopped_clamd_raises_scanner_error(tmp_path):
    server = start_clamd(tmp_path / "clamd")
    scanner = ClamdScanner(socket_path=server.socket_path, timeout=5)
    assert scanner.scan([b"data"]) == ScanResult(clean=True)

    server.stop()

    with pytest.raises(ScannerError):
        scanner.scan([b"data"])


def test_scan_over_stream_size_limit_raises_scanner_error(limited_clamd):
    scanner = ClamdScanner(socket_path=limited_clamd.socket_path, timeout=10)

    with pytest.raises(ScanLimitExceeded) as caught:
        scanner.scan(chunks_of(os.urandom(MiB), SCAN_CHUNK_SIZE))

    assert "size limit exceeded" in caught.value.details["reason"]


def test_scan_just_over_stream_size_limit_raises_scanner_error(limited_clamd):
    """Barely over the limit: everything fits in the socket buffers, the refusal comes as
    the reply instead of a closed connection."""
    scanner = ClamdScanner(address=limited_clamd.address, timeout=10)

    with pytest.raises(ScanLimitExceeded) as caught:
        scanner.scan([b"a" * (10 * 1024 + 1)])

    assert "size limit exceeded" in caught.value.details["reason"]


def test_scan_limit_exceeded_is_a_scanner_error():
    """Callers that only catch ScannerError still fail closed on it."""
    assert issubclass(ScanLimitExceeded, ScannerError)


def test_scan_under_stream_size_limit_still_works(limited_clamd):
    scanner = ClamdScanner(socket_path=limited_clamd.socket_path, timeout=10)

    assert scanner.scan([b"a" * 1000, EICAR]) == INFECTED


def test_scanner_error_is_a_503_in_the_uniform_shape(tmp_path):
    with pytest.raises(ScannerError) as caught:
        ClamdScanner(socket_path=str(tmp_path / "missing.sock"), timeout=1).scan([b"x"])

    response = suite_error_response(caught.value)

    assert response.status_code == 503
    assert b'"code": "scanner_unavailable"' in response.content


def test_clamd_scanner_needs_exactly_one_target():
    with pytest.raises(ValueError):
        ClamdScanner(timeout=1)
    with pytest.raises(ValueError):
        ClamdScanner(socket_path="/x.sock", address=("127.0.0.1", 3310), timeout=1)


# --- configuration -------------------------------------------------------------------------------


def test_get_scanner_default_is_noop(settings):
    settings.DRIVE_SCANNER = "noop"

    assert isinstance(get_scanner(), NoopScanner)


def test_get_scanner_clamav_over_unix_socket(settings, clamd):  # noqa: F811
    settings.DRIVE_SCANNER = "clamav"
    settings.DRIVE_CLAMD_SOCKET = clamd["socket"]
    settings.DRIVE_CLAMD_ADDRESS = ""
    settings.DRIVE_CLAMD_TIMEOUT = 7

    scanner = get_scanner()

    assert isinstance(scanner, ClamdScanner)
    assert (scanner.socket_path, scanner.address, scanner.timeout) == (clamd["socket"], None, 7.0)
    assert scanner.scan([EICAR]) == INFECTED


def test_get_scanner_clamav_over_tcp(settings, clamd):  # noqa: F811
    host, port = clamd["address"]
    settings.DRIVE_SCANNER = "clamav"
    settings.DRIVE_CLAMD_SOCKET = ""
    settings.DRIVE_CLAMD_ADDRESS = f"{host}:{port}"

    scanner = get_scanner()

    assert isinstance(scanner, ClamdScanner)
    assert scanner.address == (host, port)
    assert scanner.scan([EICAR]) == INFECTED


@pytest.mark.parametrize(
    ("socket_path", "address"),
    [("", ""), ("/run/clamav/clamd.ctl", "127.0.0.1:3310")],
    ids=["neither", "both"],
)
def test_get_scanner_clamav_needs_exactly_one_target(settings, socket_path, address):
    settings.DRIVE_SCANNER = "clamav"
    settings.DRIVE_CLAMD_SOCKET = socket_path
    settings.DRIVE_CLAMD_ADDRESS = address

    with pytest.raises(ImproperlyConfigured, match="exactly one"):
        get_scanner()


@pytest.mark.parametrize(
    "address", ["clamd", "clamd:", ":3310", "clamd:port", "clamd:0", "clamd:70000"]
)
def test_get_scanner_clamav_refuses_malformed_address(settings, address):
    settings.DRIVE_SCANNER = "clamav"
    settings.DRIVE_CLAMD_SOCKET = ""
    settings.DRIVE_CLAMD_ADDRESS = address

    with pytest.raises(ImproperlyConfigured, match="DRIVE_CLAMD_ADDRESS"):
        get_scanner()


def test_get_scanner_refuses_unknown_backend(settings):
    settings.DRIVE_SCANNER = "virustotal"

    with pytest.raises(ImproperlyConfigured, match="DRIVE_SCANNER"):
        get_scanner()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("clamd:3310", ("clamd", 3310)),
        ("[::1]:3310", ("::1", 3310)),
        (" 10.0.0.5:1 ", ("10.0.0.5", 1)),
    ],
)
def test_parse_address(text, expected):
    assert parse_address(text) == expected


# --- analyze: the upload's bytes read once from S3 through the scanner ----------------------------


@pytest.fixture
def clamav_settings(s3_settings, clamd):  # noqa: F811
    s3_settings.DRIVE_SCANNER = "clamav"
    s3_settings.DRIVE_CLAMD_SOCKET = clamd["socket"]
    s3_settings.DRIVE_CLAMD_ADDRESS = ""
    return s3_settings


@pytest.fixture
def analyzing(s3_settings, db):
    """``analyzing(data)`` -> the id of a file version holding ``data`` in S3, uploaded and
    waiting for its analysis, as upload-ended leaves a large one; objects deleted after."""
    store = get_blob_store()
    keys = []

    def make(data, title="upload.bin"):
        owner = UserFactory()
        item = make_item(make_workspace(owner), kind=ItemType.FILE, title=title, upload_state=UploadState.ANALYZING)
        key = store.new_key("drive")
        info = store.put(key, data)
        keys.append(key)
        version = FileVersion.objects.create(
            item=item, number=1, key=key, state=UploadState.ANALYZING, declared_size=info.size, size=info.size,
            charged_bytes=info.size, uploaded_at=timezone.now(),
        )
        return version.pk

    yield make
    store.delete_many(keys)


def test_analyze_finds_a_clean_object_ready(clamav_settings, analyzing):
    version_id = analyzing(os.urandom(200_000))

    assert analyze(version_id) == UploadState.READY


def test_analyze_finds_an_infected_object_infected(clamav_settings, analyzing, mailoutbox):
    version_id = analyzing(os.urandom(SCAN_CHUNK_SIZE - 10) + EICAR + os.urandom(1000))

    assert analyze(version_id) == UploadState.INFECTED
    assert FileVersion.objects.get(pk=version_id).state_reason == f"infected: {REPORTED_SIGNATURE}"


def test_analyze_streams_without_holding_the_object(clamav_settings, analyzing):
    block = os.urandom(MiB)
    version_id = analyzing(block for _ in range(24))
    tracemalloc.start()
    try:
        state = analyze(version_id)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert state == UploadState.READY, FileVersion.objects.get(pk=version_id).state_reason
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB for a 24 MiB object"


def test_analyze_with_the_noop_scanner_reads_for_the_hash_only(s3_settings, analyzing):
    s3_settings.DRIVE_SCANNER = "noop"
    version_id = analyzing(EICAR, title="eicar.txt")

    assert analyze(version_id) == UploadState.READY  # nothing scans: the deployment chose so
    assert FileVersion.objects.get(pk=version_id).sha256 == hashlib.sha256(EICAR).hexdigest()


def test_analyze_with_an_unreachable_scanner_keeps_the_file_analyzing(s3_settings, analyzing, tmp_path):
    s3_settings.DRIVE_SCANNER = "clamav"
    s3_settings.DRIVE_CLAMD_SOCKET = str(tmp_path / "missing.sock")
    s3_settings.DRIVE_CLAMD_ADDRESS = ""
    version_id = analyzing(b"data")

    with pytest.raises(ScannerError):
        analyze(version_id)
    assert FileVersion.objects.get(pk=version_id).state == UploadState.ANALYZING  # fail closed
