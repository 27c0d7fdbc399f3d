"""What a file really is: its MIME type read from its first bytes by libmagic (the ``file``
command's database, through python-magic), never the name or the type a client declared.

Policy (settings ``DRIVE_ALLOWED_TYPES`` / ``DRIVE_DENIED_TYPES``, MIME types or prefixes
ending with ``/``): a detected type on the deny list, or off a non-empty allow list, is
rejected. A file whose name promises a format that libmagic recognises reliably (PDF, common
images, archives) must be that format: a ``.pdf`` that is an executable is rejected as a
mismatch even if executables were allowed.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

import magic
from django.conf import settings

#: Bytes read from the start of a file to detect its type (libmagic needs far less for the
#: formats that matter; office formats are ZIPs recognised from their first entries).
SNIFF_BYTES = 64 * 1024
GENERIC_TYPES = {"application/octet-stream", "text/plain", "inode/x-empty", "application/x-empty"}
#: Extensions whose format libmagic identifies without doubt, with the types it may report.
STRICT_EXTENSIONS: dict[str, set[str]] = {
    ".pdf": {"application/pdf"},
    ".png": {"image/png"},
    ".jpg": {"image/jpeg"},
    ".jpeg": {"image/jpeg"},
    ".gif": {"image/gif"},
    ".webp": {"image/webp"},
    ".zip": {"application/zip"},
    ".gz": {"application/gzip", "application/x-gzip"},
}


#: Types libmagic also reports from a guess, without a signature, with the signatures that
#: make them certain: a guess is no detection. About 1 % of random binary data (encrypted or
#: raw files) looks like a DOS COM program to libmagic's heuristics (a first byte that is a
#: plausible x86 instruction); refusing those as executables would refuse ordinary files.
SIGNATURES: dict[str, tuple[bytes, ...]] = {"application/x-dosexec": (b"MZ",)}


@dataclass(frozen=True)
class TypeVerdict:
    mimetype: str
    allowed: bool
    code: str = ""  # "type_denied" | "type_mismatch"
    reason: str = ""


def detect(head: bytes) -> str:
    """The MIME type of a file starting with ``head``."""
    if not head:
        return "application/x-empty"
    detected = magic.from_buffer(head, mime=True) or "application/octet-stream"
    signatures = SIGNATURES.get(detected)
    if signatures is not None and not head.startswith(signatures):
        return "application/octet-stream"
    return detected


def _matches(mimetype: str, patterns: list[str]) -> bool:
    return any(mimetype == p or (p.endswith("/") and mimetype.startswith(p)) for p in patterns)


def served_type(title: str, detected: str) -> str:
    """The type to serve: the detected one, unless it is generic and the name is more
    precise about a harmless text type (``.csv``, ``.md`` detected as ``text/plain``)."""
    if detected in GENERIC_TYPES:
        guessed, _encoding = mimetypes.guess_type(title, strict=False)
        if guessed and guessed.startswith("text/") and detected.startswith("text/"):
            return guessed
    return detected


def check(title: str, head: bytes, declared: str = "") -> TypeVerdict:
    """The verdict on a file named ``title`` whose first bytes are ``head``; ``declared`` is
    the type the client announced (a specific one must match the bytes too)."""
    detected = detect(head)
    denied = settings.DRIVE_DENIED_TYPES
    allowed = settings.DRIVE_ALLOWED_TYPES
    if _matches(detected, denied) or (allowed and not _matches(detected, allowed)):
        return TypeVerdict(detected, False, "type_denied", f"files of type {detected} are not accepted")
    extension = "." + title.rsplit(".", 1)[-1].lower() if "." in title else ""
    expected = STRICT_EXTENSIONS.get(extension)
    if expected is not None and detected not in expected and detected not in {"application/x-empty", "inode/x-empty"}:
        return TypeVerdict(
            detected, False, "type_mismatch",
            f"the name ends with {extension} but the content is {detected}",
        )
    strict_types = {t for types in STRICT_EXTENSIONS.values() for t in types}
    declared = declared.split(";")[0].strip().lower()
    if declared in strict_types and detected != declared and detected not in {"application/x-empty", "inode/x-empty"}:
        expected_family = next(types for types in STRICT_EXTENSIONS.values() if declared in types)
        if detected not in expected_family:
            return TypeVerdict(
                detected, False, "type_mismatch", f"the declared type is {declared} but the content is {detected}"
            )
    return TypeVerdict(served_type(title, detected), True)
