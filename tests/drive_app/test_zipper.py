"""Streaming ZIP archives of drive folders, read back with the standard ``zipfile`` module,
over real blobs in SeaweedFS."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import tracemalloc
import unicodedata
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drive_app.zipper import (
    ZipEntry,
    ZipSourceMissing,
    ZipSourceSizeMismatch,
    archive_entries,
    stream_zip,
    zip_size,
)
from suite.access.models import path_segment
from suite.errors import suite_error_response
from suite.storage import get_blob_store

MiB = 1024 * 1024
UTF8_FLAG = 0x800
WHEN = dt.datetime(2025, 6, 14, 7, 30, 12, tzinfo=dt.UTC)
ROOT = path_segment(3)


def seg(*indexes: int) -> str:
    """The materialized path of the root's descendant at ``indexes`` (child numbers)."""
    return ROOT + "".join(path_segment(index) for index in indexes)


def folder(path, title, modified=WHEN):
    return (path, title, None, None, modified)


@pytest.fixture
def store(s3_settings):
    return get_blob_store()


@pytest.fixture
def put(store):
    """``put(data)`` → the key of a new real blob holding ``data``."""

    def put_blob(data: bytes) -> str:
        key = store.new_key("drive")
        store.put(key, data)
        return key

    return put_blob


def file_row(put, path, title, data, modified=WHEN):
    return (path, title, put(data), len(data), modified)


def read_archive(entries, **options) -> tuple[bytes, zipfile.ZipFile]:
    data = b"".join(stream_zip(entries, **options))
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    return data, archive


# --- archives read back ------------------------------------------------------------------------


def test_stream_zip_archives_nested_folders_with_utf8_names_and_empty_folders(put):
    report = b"%PDF-1.7 compte rendu"
    notes = "Ordre du jour : budget 2026 ✓\n".encode()
    rows = [
        folder(ROOT, "Projets été"),
        file_row(put, seg(0), "Compte-rendu réunion été.pdf", report),
        folder(seg(1), "Sous-dossier"),
        file_row(put, seg(1, 0), "notes.txt", notes),
        folder(seg(1, 1), "Ünïcödé ✓"),
        folder(seg(2), "Vide"),
    ]

    entries = archive_entries("Projets été", rows)
    _data, archive = read_archive(entries)

    assert archive.namelist() == [
        "Projets été/",
        "Projets été/Compte-rendu réunion été.pdf",
        "Projets été/Sous-dossier/",
        "Projets été/Sous-dossier/notes.txt",
        "Projets été/Sous-dossier/Ünïcödé ✓/",
        "Projets été/Vide/",
    ]
    assert archive.read("Projets été/Compte-rendu réunion été.pdf") == report
    assert archive.read("Projets été/Sous-dossier/notes.txt") == notes
    assert [info.filename for info in archive.infolist() if info.is_dir()] == [
        "Projets été/", "Projets été/Sous-dossier/", "Projets été/Sous-dossier/Ünïcödé ✓/",
        "Projets été/Vide/",
    ]
    for info in archive.infolist():
        assert info.compress_type == zipfile.ZIP_STORED
        assert bool(info.flag_bits & UTF8_FLAG) == (not info.filename.isascii()), info.filename


def test_stream_zip_stamps_entries_with_their_local_modification_time(put, settings):
    settings.TIME_ZONE = "Europe/Paris"
    rows = [
        folder(ROOT, "Root", modified=dt.datetime(2024, 1, 10, 23, 15, 0, tzinfo=dt.UTC)),
        file_row(put, seg(0), "summer.txt", b"s", modified=WHEN),
        file_row(put, seg(1), "old.txt", b"o", modified=dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
    ]

    _data, archive = read_archive(archive_entries("Root", rows))

    assert {info.filename: info.date_time for info in archive.infolist()} == {
        "Root/": (2024, 1, 11, 0, 15, 0),  # UTC+1 in winter
        "Root/summer.txt": (2025, 6, 14, 9, 30, 12),  # UTC+2 in summer
        "Root/old.txt": (1980, 1, 1, 0, 0, 0),  # ZIP dates start in 1980
    }


def test_stream_zip_reads_an_object_in_many_chunks(put):
    data = os.urandom(100_003)
    rows = [folder(ROOT, "Root"), file_row(put, seg(0), "random.bin", data)]

    _raw, archive = read_archive(archive_entries("Root", rows), chunk_size=4096)

    assert archive.read("Root/random.bin") == data


def test_stream_zip_archives_a_single_file_root(put):
    rows = [file_row(put, ROOT, "seul.txt", b"alone")]

    _data, archive = read_archive(archive_entries("seul.txt", rows))

    assert archive.namelist() == ["seul.txt"]
    assert archive.read("seul.txt") == b"alone"


# --- names --------------------------------------------------------------------------------------


def names_of(entries):
    return [entry.path for entry in entries]


def test_archive_entries_disambiguates_case_insensitive_duplicates():
    rows = [
        folder(ROOT, "Root"),
        (seg(0), "Rapport.pdf", "k0", 1, WHEN),
        (seg(1), "rapport.PDF", "k1", 1, WHEN),
        (seg(2), "RAPPORT.pdf", "k2", 1, WHEN),
        (seg(3), "Rapport (2).pdf", "k3", 1, WHEN),
        folder(seg(4), "Docs"),
        (seg(5), "docs", "k5", 1, WHEN),
        folder(seg(6), "DOCS"),
        (seg(7), "Été.txt", "k7", 1, WHEN),
        (seg(8), unicodedata.normalize("NFD", "été.txt"), "k8", 1, WHEN),
        (seg(9), "a:b.txt", "k9", 1, WHEN),
        (seg(10), "a?b.txt", "k10", 1, WHEN),
        (seg(4, 0), "Rapport.pdf", "k40", 1, WHEN),  # same name, another folder: kept
    ]

    entries = archive_entries("Root", rows)

    assert names_of(entries) == [
        "Root/",
        "Root/Rapport.pdf",
        "Root/rapport (3).PDF",  # " (2)" belongs to a real sibling
        "Root/RAPPORT (4).pdf",
        "Root/Rapport (2).pdf",
        "Root/Docs/",
        "Root/Docs/Rapport.pdf",
        "Root/docs (2)",
        "Root/DOCS (3)/",
        "Root/Été.txt",
        "Root/été (2).txt",
        "Root/a_b.txt",
        "Root/a_b (2).txt",
    ]
    assert [entry.key for entry in entries][1:5] == ["k0", "k1", "k2", "k3"]


def test_archive_entries_do_not_depend_on_row_order():
    rows = [folder(ROOT, "Root")] + [
        (seg(index), title, f"k{index}", index, WHEN)
        for index, title in enumerate(["x.txt", "X.txt", "x (2).txt", "X.TXT", "y"])
    ] + [folder(seg(9), "Y"), folder(seg(9, 0), "inner")]
    shuffled = rows[:1] + rows[:0:-1]  # children listed before their parents, reversed

    assert archive_entries("Root", shuffled) == archive_entries("Root", rows)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("../x", ".._x"),
        ("a/b", "a_b"),
        ("..", "_"),
        (".", "_"),
        ("", "_"),
        ("/etc/passwd", "_etc_passwd"),
        ("..\\..\\boot.ini", ".._.._boot.ini"),
        ("C:\\Windows", "C__Windows"),
        ("nul\x00byte.txt", "nul_byte.txt"),
        ("tab\there\nnew\x7f.txt", "tab_here_new_.txt"),
        ("invoice\u202efdp.exe", "invoice_fdp.exe"),
        ("line\u2028sep", "line_sep"),
        ("con.txt", "_con.txt"),
        ("LPT1", "_LPT1"),
        ("  spaced . . ", "spaced"),
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
        ("é" * 200 + ".txt", "é" * 125 + ".txt"),
    ],
)
def test_archive_entries_neutralise_hostile_titles(title, expected):
    rows = [folder(ROOT, "Root"), (seg(0), title, "k", 1, WHEN), folder(seg(1), title)]

    entries = archive_entries("Root", rows)

    assert names_of(entries)[1] == f"Root/{expected}"
    assert names_of(entries)[2].startswith("Root/") and names_of(entries)[2].endswith("/")


def test_archive_entries_neutralise_a_hostile_root_title():
    assert names_of(archive_entries("../../etc", [folder(ROOT, "x")])) == [".._.._etc/"]


def test_archive_entries_leave_out_rows_whose_parent_is_missing():
    rows = [
        folder(ROOT, "Root"),
        (seg(0), "kept.txt", "k0", 1, WHEN),
        (seg(1, 0), "orphan.txt", "k1", 1, WHEN),  # its folder seg(1) was left out
        folder(seg(1, 1), "orphan folder"),
        (seg(1, 1, 0), "grandchild.txt", "k2", 1, WHEN),
    ]

    assert names_of(archive_entries("Root", rows)) == ["Root/", "Root/kept.txt"]


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [folder(ROOT, "Root"), folder(path_segment(4), "elsewhere")],
        [folder(ROOT, "Root"), folder(seg(0), "a"), folder(seg(0), "again")],
        [folder(ROOT + "AB", "Root")],
    ],
)
def test_archive_entries_reject_rows_that_are_not_a_subtree(rows):
    with pytest.raises(ValueError):
        archive_entries("Root", rows)


FORBIDDEN = set('/\\<>:"|?*') | set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@st.composite
def subtrees(draw):
    """Rows of a random subtree with arbitrary titles (any Unicode, any length)."""
    rows = [folder(ROOT, draw(st.text(max_size=20)))]
    folders = [ROOT]
    child_count = {ROOT: 0}
    items = draw(st.lists(st.tuples(st.text(max_size=300), st.booleans(), st.integers(0, 99)), max_size=25))
    for title, is_folder, parent_choice in items:
        parent = folders[parent_choice % len(folders)]
        path = parent + path_segment(child_count[parent])
        child_count[parent] += 1
        if is_folder:
            rows.append(folder(path, title))
            folders.append(path)
            child_count[path] = 0
        else:
            rows.append((path, title, f"key-{path}", 1, WHEN))
    return rows


@settings(max_examples=300, deadline=None)
@given(rows=subtrees(), data=st.data())
def test_archive_entries_are_safe_unique_and_ordered_for_any_titles(rows, data):
    entries = archive_entries(rows[0][1], rows)

    assert len(entries) == len(rows)
    seen_folders: set[str] = set()
    sibling_keys: set[str] = set()
    for entry in entries:
        assert entry.path.endswith("/") == (entry.key is None)
        components = entry.path.rstrip("/").split("/")
        for component in components:
            assert component not in ("", ".", "..")
            assert component == unicodedata.normalize("NFC", component)
            assert component == component.lstrip(" ").rstrip(" .")
            assert len(component.encode("utf-8")) <= 255
            assert not FORBIDDEN & set(component)
            assert all(unicodedata.category(c) not in ("Cc", "Cs", "Zl", "Zp") for c in component)
        parent = entry.path.rstrip("/").rpartition("/")[0]
        assert not parent or parent + "/" in seen_folders  # folders before their contents
        if entry.key is None:
            seen_folders.add(entry.path)
        key = unicodedata.normalize("NFC", entry.path.rstrip("/").casefold())
        assert key not in sibling_keys  # unique on case-insensitive file systems
        sibling_keys.add(key)
    shuffled = rows[:1] + data.draw(st.permutations(rows[1:]))
    assert archive_entries(rows[0][1], shuffled) == entries


# --- sizes --------------------------------------------------------------------------------------


def test_zip_size_equals_the_length_of_the_streamed_archive(put):
    rows = [
        folder(ROOT, "Données"),
        file_row(put, seg(0), "vide.txt", b""),
        file_row(put, seg(1), "Compte-rendu réunion été.pdf", os.urandom(70_000)),
        folder(seg(2), "Sous-dossier ✓"),
        file_row(put, seg(2, 0), "a.bin", os.urandom(1234)),
        folder(seg(3), "empty"),
    ]
    entries = archive_entries("Données", rows)

    size = zip_size(entries)
    data, archive = read_archive(entries, chunk_size=10_000)

    assert size == len(data)
    assert archive.read("Données/vide.txt") == b""


def test_zip_size_is_unknown_when_a_file_size_is_unknown_and_the_stream_still_works(put):
    data = os.urandom(5000)
    entries = [
        ZipEntry("Root/", None, None, WHEN),
        ZipEntry("Root/unknown.bin", put(data), None, WHEN),
        ZipEntry("Root/known.txt", put(b"known"), 5, WHEN),
    ]

    assert zip_size(entries) is None
    _raw, archive = read_archive(entries)
    assert archive.read("Root/unknown.bin") == data
    assert archive.read("Root/known.txt") == b"known"


@pytest.mark.parametrize("count", [65_535, 65_536])
def test_zip_size_is_exact_around_the_zip64_entry_count_limit(count):
    """From 65,535 entries on, the end of the archive needs ZIP64 records (the 16-bit count
    reads 0xFFFF); zipstream-ng alone miscounts exactly 65,535."""
    entries = [ZipEntry("Root/", None, None, WHEN)] + [
        ZipEntry(f"Root/d{index}/", None, None, WHEN) for index in range(count - 1)
    ]

    data = b"".join(stream_zip(entries))

    assert zip_size(entries) == len(data)
    assert b"PK\x06\x06" in data  # the ZIP64 end of central directory record
    assert len(zipfile.ZipFile(io.BytesIO(data)).namelist()) == count


@pytest.mark.parametrize(
    "entries",
    [
        [ZipEntry("/abs/", None, None, WHEN)],
        [ZipEntry("Root/../x", "k", 1, WHEN)],
        [ZipEntry("Root/a\\..\\b", "k", 1, WHEN)],
        [ZipEntry("Root/file/", "k", 1, WHEN)],
        [ZipEntry("Root/folder", None, None, WHEN)],
        [ZipEntry("Root/", None, None, WHEN), ZipEntry("Root/", None, None, WHEN)],
    ],
)
def test_zip_size_and_stream_zip_refuse_unsafe_entries(entries):
    with pytest.raises(ValueError):
        zip_size(entries)
    with pytest.raises(ValueError):
        next(stream_zip(entries))


# --- memory ---------------------------------------------------------------------------------------


def test_stream_zip_memory_stays_bounded_for_a_large_object(store, tmp_path):
    size = 64 * MiB
    digest = hashlib.sha256()

    def content():
        for _ in range(size // MiB):
            chunk = os.urandom(MiB)
            digest.update(chunk)
            yield chunk

    key = store.new_key("drive")
    store.put(key, content(), size=size)
    entries = [ZipEntry("Big/", None, None, WHEN), ZipEntry("Big/big.bin", key, size, WHEN)]
    archive_path = tmp_path / "big.zip"

    tracemalloc.start()
    try:
        with archive_path.open("wb") as output:
            for chunk in stream_zip(entries):
                output.write(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB while streaming {size / MiB:.0f} MiB"
    assert archive_path.stat().st_size == zip_size(entries)
    with zipfile.ZipFile(archive_path) as archive, archive.open("Big/big.bin") as member:
        extracted = hashlib.sha256()
        while chunk := member.read(MiB):
            extracted.update(chunk)
    assert extracted.hexdigest() == digest.hexdigest()


# --- failures -------------------------------------------------------------------------------------


def test_stream_zip_raises_zip_source_missing_mid_stream(store, put):
    entries = [
        ZipEntry("Root/", None, None, WHEN),
        ZipEntry("Root/present.txt", put(b"here"), 4, WHEN),
        ZipEntry("Root/gone.pdf", store.new_key("drive"), 10, WHEN),  # never written
        ZipEntry("Root/after.txt", put(b"after"), 5, WHEN),
    ]
    produced = []

    with pytest.raises(ZipSourceMissing) as raised:
        for chunk in stream_zip(entries):
            produced.append(chunk)

    assert raised.value.path == "Root/gone.pdf"
    assert b"here" in b"".join(produced)  # the archive had started: headers were sent
    response = suite_error_response(raised.value)
    assert response.status_code == 404
    assert b'"zip_source_missing"' in response.content


@pytest.mark.parametrize(("declared", "received"), [(10, 5), (3, 5)])
def test_stream_zip_raises_when_an_object_is_not_its_declared_size(put, declared, received):
    entries = [ZipEntry("Root/", None, None, WHEN), ZipEntry("Root/a.txt", put(b"12345"), declared, WHEN)]
    produced = []

    with pytest.raises(ZipSourceSizeMismatch) as raised:
        for chunk in stream_zip(entries):
            produced.append(chunk)

    assert raised.value.path == "Root/a.txt"
    assert raised.value.details == {"path": "Root/a.txt", "expected_size": declared, "received_size": received}
    # Too long is caught before any of the surplus bytes go out.
    assert (b"12345" in b"".join(produced)) == (declared > received)
