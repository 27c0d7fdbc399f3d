"""ZIP archives of drive folders, streamed: "download this folder" without a temporary file.

Two steps, so the HTTP layer can do its checks (access, quota of entries, ``Content-Length``)
before the first byte leaves:

1. :func:`archive_entries` turns the rows of a folder subtree (as the drive stores them: a
   materialized path, a title, an S3 key) into :class:`ZipEntry` objects with archive paths
   that are safe to extract anywhere and unique among siblings. Pure: no database, no store.
2. :func:`stream_zip` produces the archive as a generator of ``bytes``, reading each file
   from the blob store as it goes; :func:`zip_size` tells its exact length up front.

Typical use in a view::

    entries = archive_entries(folder.title, rows)
    body = streaming_body(request, stream_zip(entries))  # suite.storage.responses: ASGI too
    response = StreamingHttpResponse(body, content_type="application/zip")
    if (size := zip_size(entries)) is not None:
        response["Content-Length"] = str(size)

**Errors after the headers.** A streaming response sends its status and headers before the
generator runs, so a file that turns out to be missing (:class:`ZipSourceMissing`) or of
another size than the database says (:class:`ZipSourceSizeMismatch`) can no longer become an
error response: the exception ends the stream, the server drops the connection, and the
client sees a truncated download (with ``Content-Length`` set, every HTTP client notices).
Both are :class:`ZipSourceError`, a :class:`~suite.errors.SuiteError`, so the view can log
them with their code. They are raised before the faulty entry is complete, so the bytes sent
never form a whole archive that would extract with a file silently missing or truncated.

zipstream-ng does the ZIP format work (ZIP64, data descriptors, size arithmetic). This module
adds the drive's modification dates, which its ``add()`` cannot take (upstream issue
pR0Ps/zipstream-ng#27), and corrects its length at exactly 65,535 entries, by overriding two
methods of the pinned version (1.9.3).
"""

from __future__ import annotations

import datetime as dt
import os
import unicodedata
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from zipfile import ZIP64_LIMIT, ZIP_FILECOUNT_LIMIT

import zipstream
from django.utils import timezone
from django.utils.translation import gettext as _
from zipstream import ZIP_STORED, ZipStreamInfo

from suite.access.models import PATH_STEP
from suite.errors import SuiteError
from suite.storage import BlobNotFound, get_blob_store

#: Longest file name most file systems accept (ext4, APFS, NTFS count 255 bytes or units).
NAME_MAX_BYTES = 255
#: Stands for a title that is empty once made safe ("", "..", "   ").
EMPTY_NAME = "_"
#: A title's extension is kept through truncation and " (2)" only when at most this long.
_EXTENSION_MAX_BYTES = 32

# Characters that no archive path component may hold: path separators of every platform,
# then those Windows refuses in file names (its built-in extractor fails on them).
_FORBIDDEN_CHARACTERS = frozenset('/\\<>:"|?*')
# Bidirectional controls: invisible, and able to make "invoice\u202efdp.exe" display as
# "invoiceexe.pdf".
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters, line/paragraph separators and lone surrogates (not encodable in UTF-8).
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Windows device names: "CON", "con.txt", "Nul.tar.gz" cannot be created there.
_WINDOWS_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{digit}" for digit in range(1, 10)}
    | {f"LPT{digit}" for digit in range(1, 10)}
)

# The range of dates a ZIP (MS-DOS) timestamp can hold, with its two-second resolution.
_ZIP_MIN_DATE = (1980, 1, 1, 0, 0, 0)
_ZIP_MAX_DATE = (2107, 12, 31, 23, 59, 58)
_FILE_MODE = 0o644
_FOLDER_MODE = 0o755
_MSDOS_DIRECTORY_FLAG = 0x10
# The ZIP64 end of central directory record (56 bytes) and its locator (20 bytes), APPNOTE
# 4.3.14 and 4.3.15.
_ZIP64_END_RECORDS_SIZE = 56 + 20


# --- errors --------------------------------------------------------------------------------------


class ZipSourceError(SuiteError):
    """A file's bytes could not be put in an archive being streamed (see the module docstring:
    the response has usually started, so this ends the stream rather than answering)."""

    code = "zip_source_error"
    status = 500

    def __init__(self, path: str, message: str, **kwargs: Any):
        self.path = path
        details = {"path": path, **kwargs.pop("details", {})}
        super().__init__(message, details=details, **kwargs)


class ZipSourceMissing(ZipSourceError):
    """The blob of the file at archive path ``path`` is not in the store (purged while the
    archive was being built, or a row pointing at nothing)."""

    code = "zip_source_missing"
    status = 404

    def __init__(self, path: str):
        super().__init__(
            path, _("The content of “%(path)s” was not found.") % {"path": path}
        )


class ZipSourceSizeMismatch(ZipSourceError):
    """The blob of the file at ``path`` is not as long as its :class:`ZipEntry` says, so the
    announced archive length would be wrong. Raised as soon as it is known: when the blob
    proves longer, or when it ends shorter."""

    code = "zip_source_size_mismatch"
    status = 500

    def __init__(self, path: str, *, expected: int, received: int):
        super().__init__(
            path,
            _("The content of “%(path)s” does not have the expected size.") % {"path": path},
            details={"expected_size": expected, "received_size": received},
        )


# --- entries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZipEntry:
    """One member of an archive.

    ``path`` is relative and ``/``-separated; a folder's ends with ``/`` and has no ``key``.
    ``size`` is the file's length in bytes when known (it lets :func:`zip_size` compute the
    archive length); None for folders and for files of unknown length.
    """

    path: str
    key: str | None
    size: int | None
    modified: dt.datetime

    @property
    def is_folder(self) -> bool:
        return self.key is None


DriveRow = tuple[str, str, str | None, int | None, dt.datetime]


def archive_entries(root_title: str, rows: Iterable[DriveRow]) -> list[ZipEntry]:
    """The archive members of a folder subtree, folders before their contents.

    ``rows`` are ``(path, title, key, size, modified)`` of the subtree's items, the root
    folder first, in any order after it: ``path`` is the item's materialized path
    (:data:`~suite.access.models.PATH_STEP` characters per level), ``key`` the S3 key of a
    file's served version and None for a folder. Callers pass only what the actor may
    download: no trashed items, no file without a ready version (its row would read as a
    folder). A row whose parent is not among the rows is left out with its descendants:
    its parent was left out on purpose.

    The root folder is named ``root_title`` and every path starts with it (``"Root/"``,
    ``"Root/Sub/file.txt"``); every folder is an entry, so empty folders survive extraction.

    Titles become names that extract safely and identically on Linux, macOS and Windows:
    Unicode NFC; path separators, the characters Windows forbids, control and bidirectional
    characters replaced with ``_``; no leading spaces nor trailing spaces or dots (Windows
    drops them); ``"."``/``".."``/empty become ``_``; Windows device names (``CON``,
    ``nul.txt``) get a ``_`` prefix; at most 255 UTF-8 bytes, keeping the extension.
    Siblings whose names are equal once case and normalization are ignored (as on Windows
    and macOS) are told apart with ``" (2)"``, ``" (3)"``... before the extension: the first
    in path order (the oldest) keeps its name, and a suffixed name never takes the name of
    another item. The result depends only on the rows, not on their order.

    Raises ValueError for rows that are not a subtree of the first row.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("archive_entries needs at least the root folder's row")
    root_path, _title, root_key, root_size, root_modified = rows[0]
    if not root_path or len(root_path) % PATH_STEP:
        raise ValueError(f"malformed materialized path {root_path!r}")
    root_name = _safe_name(root_title, is_folder=root_key is None)
    if root_key is not None:  # a single file: its own archive
        return [ZipEntry(root_name, root_key, root_size, root_modified)]

    ordered = sorted(rows[1:], key=lambda row: row[0])
    children: dict[str, list[DriveRow]] = {root_path: []}
    for row in ordered:
        path = row[0]
        if len(path) % PATH_STEP or len(path) <= len(root_path) or not path.startswith(root_path):
            raise ValueError(f"{path!r} is not a descendant of {root_path!r}")
        if path in children:
            raise ValueError(f"{path!r} appears twice")
        siblings = children.get(path[:-PATH_STEP])
        if siblings is None:  # orphan: its parent was left out
            continue
        siblings.append(row)
        if row[2] is None:
            children[path] = []

    names: dict[str, str] = {}  # materialized path -> archive path
    names[root_path] = root_name + "/"
    entries = [ZipEntry(root_name + "/", None, None, root_modified)]
    # Rows sorted by materialized path are a pre-order walk (a parent's path is a prefix of
    # its children's), so each parent's archive path is known before its children's.
    for parent_path, siblings in children.items():
        unique = _unique_names(
            [_safe_name(title, is_folder=key is None) for _p, title, key, _s, _m in siblings],
            [key is None for _p, _t, key, _s, _m in siblings],
        )
        for (path, _title, key, _size, _modified), name in zip(siblings, unique, strict=True):
            names[path] = names[parent_path] + name + ("/" if key is None else "")
    for path, _title, key, size, modified in ordered:
        if path in names:
            entries.append(
                ZipEntry(names[path], key, None if key is None else size, modified)
            )
    return entries


def _safe_name(title: str, *, is_folder: bool) -> str:
    """One archive path component from a title (rules in :func:`archive_entries`)."""
    name = "".join(
        "_"
        if character in _FORBIDDEN_CHARACTERS
        or character in _BIDI_CONTROLS
        or unicodedata.category(character) in _FORBIDDEN_CATEGORIES
        else character
        for character in unicodedata.normalize("NFC", title)
    )
    name = _trim(name)
    if not name:
        return EMPTY_NAME
    if name.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_DEVICE_NAMES:
        name = "_" + name
    stem, extension = _split_extension(name, is_folder=is_folder)
    return _fit(stem, extension)


def _trim(name: str) -> str:
    # Windows drops trailing spaces and dots, which would merge "a." with "a" on extraction;
    # leading spaces are legal but invisible. This also turns "." and ".." into "".
    return name.lstrip(" ").rstrip(" .")


def _split_extension(name: str, *, is_folder: bool) -> tuple[str, str]:
    if is_folder:
        return name, ""
    stem, extension = os.path.splitext(name)
    if not stem or len(extension.encode()) > _EXTENSION_MAX_BYTES:
        return name, ""
    return stem, extension


def _fit(stem: str, suffix: str) -> str:
    """``stem + suffix`` within :data:`NAME_MAX_BYTES`, cutting the stem (never in the
    middle of a character)."""
    room = NAME_MAX_BYTES - len(suffix.encode())
    encoded = stem.encode()
    if len(encoded) > room:
        stem = _trim(encoded[:room].decode(errors="ignore")) or EMPTY_NAME
    return stem + suffix


def _sibling_key(name: str) -> str:
    """What makes two sibling names the same file on a case-insensitive file system."""
    return unicodedata.normalize("NFC", name.casefold())


def _unique_names(names: list[str], is_folder: list[bool]) -> list[str]:
    """``names`` with later duplicates (by :func:`_sibling_key`) renamed ``"name (n).ext"``.

    Every original name is reserved first, so a suffixed name never takes the place of a
    sibling's real name ("a.txt", "A.txt", "a (2).txt" gives "A (3).txt" to the second).
    """
    reserved = {_sibling_key(name) for name in names}
    taken: set[str] = set()
    next_number: dict[str, int] = {}
    unique = []
    for name, folder in zip(names, is_folder, strict=True):
        key = _sibling_key(name)
        if key not in taken:
            taken.add(key)
            unique.append(name)
            continue
        stem, extension = _split_extension(name, is_folder=folder)
        number = next_number.get(key, 2)
        while True:
            candidate = _fit(stem, f" ({number}){extension}")
            candidate_key = _sibling_key(candidate)
            number += 1
            if candidate_key not in taken and candidate_key not in reserved:
                break
        next_number[key] = number
        taken.add(candidate_key)
        unique.append(candidate)
    return unique


# --- the archive ---------------------------------------------------------------------------------


class _DriveZipStream(zipstream.ZipStream):
    """zipstream-ng's stream, stamping each member with the drive's modification date.

    ``add()`` always stamps "now"; :meth:`_gen_file_entry` below is zipstream-ng 1.9.3's,
    cut down to what this module adds (folders and sized or unsized iterables, stored) and
    with the date of the entry. The tests compare :func:`zip_size` with the bytes produced
    and read the dates back, so an upgrade that changes the internals used here fails them.
    """

    def __init__(self, *, sized: bool):
        super().__init__(compress_type=ZIP_STORED, sized=sized)
        self._dates: dict[str, tuple[int, int, int, int, int, int]] = {}

    def add_entry(self, entry: ZipEntry, source: Iterable[bytes], zone: dt.tzinfo) -> None:
        self._dates[entry.path] = _zip_date_time(entry.modified, zone)
        if entry.is_folder:
            self.mkdir(entry.path)
        else:
            self.add(source, entry.path, size=entry.size)

    def _gen_file_entry(  # type: ignore[override]
        self,
        *,
        arcname: str,
        iterable: Iterable[bytes] | None = None,
        data: bytes | None = None,
        size: int | None = None,
        path: str | None = None,
        compress_type: int | None = None,
        compress_level: int | None = None,
    ) -> Iterator[bytes]:
        assert path is None and compress_type in (None, ZIP_STORED) and compress_level is None
        zinfo = ZipStreamInfo(arcname, self._dates[arcname])
        if zinfo.is_dir():
            zinfo.external_attr = (0o40000 | _FOLDER_MODE) << 16 | _MSDOS_DIRECTORY_FLAG
            iterable = None
        else:
            zinfo.external_attr = (0o100000 | _FILE_MODE) << 16
            if size is not None:
                zinfo.file_size = size
        zinfo.compress_type = ZIP_STORED
        zinfo._compresslevel = None  # read by info_list()
        zinfo.header_offset = self._pos
        # Without a known size the entry may pass 4 GiB: reserve ZIP64 fields up front.
        force_zip64 = iterable is not None and size is None
        for chunk in zinfo._file_data(iterable, force_zip64=force_zip64):
            yield self._track(chunk)
        # _object_chunks raises first; this guards sources that do not check their length.
        if size is not None and size != zinfo.file_size:
            raise ZipSourceSizeMismatch(arcname, expected=size, received=zinfo.file_size)
        self._filelist.append(zinfo)

    def __len__(self) -> int:
        length = super().__len__()
        num_files, files_size, central_directory_size = self._size_prog
        # zipstream-ng 1.9.3 writes the ZIP64 end records from 65,535 entries on (right: the
        # 16-bit count field then reads 0xFFFF, "see ZIP64") but counts them from 65,536.
        if (
            num_files == ZIP_FILECOUNT_LIMIT
            and files_size <= ZIP64_LIMIT
            and central_directory_size <= ZIP64_LIMIT
        ):
            length += _ZIP64_END_RECORDS_SIZE
        return length


def _zip_date_time(value: dt.datetime, zone: dt.tzinfo) -> tuple[int, int, int, int, int, int]:
    """A ZIP timestamp: the wall-clock time in ``zone``, which is what extractors give files.

    ZIP (MS-DOS) dates carry no time zone; the caller passes the current Django time zone
    (``TIME_ZONE``, or the one a view activated for the user), the best guess of the
    reader's. Naive datetimes are taken as they are. Clamped to the years ZIP can hold.
    """
    if value.tzinfo is not None:
        value = value.astimezone(zone)
    stamp = (value.year, value.month, value.day, value.hour, value.minute, value.second)
    return min(max(stamp, _ZIP_MIN_DATE), _ZIP_MAX_DATE)


def _build(entries: list[ZipEntry], sources: Mapping[str, Iterable[bytes]]) -> _DriveZipStream:
    _check_entries(entries)
    sized = all(entry.is_folder or entry.size is not None for entry in entries)
    stream = _DriveZipStream(sized=sized)
    zone = timezone.get_current_timezone()
    for entry in entries:
        stream.add_entry(entry, sources.get(entry.path, ()), zone)
    return stream


def _check_entries(entries: list[ZipEntry]) -> None:
    """Entries built by hand must obey what :func:`archive_entries` guarantees."""
    seen: set[str] = set()
    for entry in entries:
        components = entry.path.rstrip("/").split("/")
        if (
            entry.path.startswith("/")
            or entry.path.endswith("/") != entry.is_folder
            or any(component in ("", ".", "..") or "\\" in component for component in components)
            or "\x00" in entry.path
        ):
            raise ValueError(f"unsafe archive path {entry.path!r}")
        if entry.path in seen:
            raise ValueError(f"{entry.path!r} appears twice")
        if entry.size is not None and entry.size < 0:
            raise ValueError(f"negative size for {entry.path!r}")
        seen.add(entry.path)


def zip_size(entries: list[ZipEntry]) -> int | None:
    """The exact length in bytes of ``stream_zip(entries)``, or None when a file's size is
    unknown (its length is only known once streamed). Reads nothing from the store.

    Raises ValueError for entries :func:`stream_zip` would refuse.
    """
    stream = _build(entries, {})
    return len(stream) if stream.sized else None


def stream_zip(entries: list[ZipEntry], *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Yield the ZIP archive of ``entries``, in order, reading each file from the blob store
    only when its turn comes.

    Memory stays bounded whatever the sizes: one blob is open at a time, read
    ``chunk_size`` bytes at a time, and each chunk is handed on as soon as it is read; the
    archive itself is never held, in memory or on disk (only the central directory, about a
    hundred bytes per entry, is kept for the end of the archive).

    Files are **stored, not compressed** (``ZIP_STORED``). Most of what a drive holds is
    compressed already (PDF, JPEG/PNG, video, and DOCX/XLSX/ODT, which are ZIP files), so
    deflate would spend a CPU core per download (tens of MB/s) to save little bandwidth, and
    would make the archive's length unknowable until the end: stored, it is computed up front
    (:func:`zip_size`) so the response carries ``Content-Length`` and clients show progress.

    Names are written in UTF-8 with the UTF-8 flag (bit 11) on every non-ASCII name, so
    Windows, macOS and Linux extractors show "Compte-rendu réunion été.pdf" as it is; ASCII
    names carry no flag, which old extractors prefer. ZIP64 is used when needed: a file of
    4 GiB or more (or of unknown size), an archive past 4 GiB, more than 65,535 entries.

    Raises (while iterating) :class:`ZipSourceMissing` when a file's blob is not in the
    store, :class:`ZipSourceSizeMismatch` when its length is not ``entry.size``,
    :class:`~suite.storage.BlobStoreError` when the store fails, ValueError for unsafe or
    duplicate entry paths. Closing the generator early (a client that went away) closes
    the blob being read.
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    sources = {
        entry.path: _object_chunks(entry, chunk_size)
        for entry in entries
        if not entry.is_folder
    }
    try:
        yield from _build(entries, sources)
    finally:
        # A generator closed mid-file leaves the blob's reader suspended in its frame:
        # close every source (the finished and unstarted ones ignore it).
        for source in sources.values():
            source.close()


def _object_chunks(entry: ZipEntry, chunk_size: int) -> Generator[bytes, None, None]:
    """The bytes of ``entry``'s blob, opened on the first ``next()``, checked against
    ``entry.size`` as they come so a wrong length is reported before the entry's data
    descriptor is written."""
    assert entry.key is not None
    try:
        reader = get_blob_store().open(entry.key)
    except BlobNotFound as exc:
        raise ZipSourceMissing(entry.path) from exc
    received = 0
    with reader:
        for chunk in reader.iter_chunks(chunk_size):
            received += len(chunk)
            if entry.size is not None and received > entry.size:
                raise ZipSourceSizeMismatch(entry.path, expected=entry.size, received=received)
            yield chunk
    if entry.size is not None and received != entry.size:
        raise ZipSourceSizeMismatch(entry.path, expected=entry.size, received=received)
