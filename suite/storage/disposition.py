"""``Content-Disposition`` for downloads (RFC 6266, with RFC 8187/5987 encoded file names).

Shared by presigned downloads (S3 echoes the value back as a response header) and by
responses streamed through Django, so both name files the same way.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

FALLBACK_FILENAME = "download"
FILENAME_MAX_CHARS = 200
# Characters RFC 8187 lets through unencoded in ext-value (attr-char); everything else,
# including every non-ASCII byte, is percent-encoded.
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"
# Control characters (C0, DEL, C1), Unicode line/paragraph separators, and path separators.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029/\\]")
# What may appear inside the ASCII fallback's quoted-string without escaping: printable
# ASCII except the quote and the backslash (RFC 6266 §4.3 advises against escapes, which
# some browsers do not undo). "%" is replaced too, because some browsers percent-decode
# the plain ``filename`` parameter, and ";" because naive parsers split on it.
_FALLBACK_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\%;]')

# Types a browser may render in place without running anything: images other than SVG,
# audio, video, PDF and plain text. Everything else (HTML, SVG, XML, JavaScript...) could
# run script in the storage origin, so it is always served as an attachment.
_INLINE_SAFE_PREFIXES = ("image/", "audio/", "video/")
_INLINE_SAFE_TYPES = {"application/pdf", "text/plain"}
_INLINE_UNSAFE_TYPES = {"image/svg+xml"}


def clean_filename(filename: str) -> str:
    """The file name a download announces: normalised to NFC, without control characters,
    line breaks or path separators, trimmed of surrounding dots and spaces, at most
    :data:`FILENAME_MAX_CHARS` characters (keeping the extension), never empty."""
    name = unicodedata.normalize("NFC", str(filename))
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > FILENAME_MAX_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: FILENAME_MAX_CHARS - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:FILENAME_MAX_CHARS].rstrip(" .")
    return name or FALLBACK_FILENAME


def ascii_fallback(filename: str) -> str:
    """An ASCII approximation of a clean file name for clients that ignore ``filename*``:
    accents dropped (``été`` → ``ete``), other characters replaced by ``_``."""
    decomposed = unicodedata.normalize("NFKD", filename)
    without_marks = "".join(char for char in decomposed if not unicodedata.combining(char))
    fallback = _FALLBACK_UNSAFE.sub("_", without_marks).strip(" .")
    return fallback or FALLBACK_FILENAME


def inline_allowed(content_type: str | None) -> bool:
    """Whether a blob of this type may be displayed in the browser instead of downloaded."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _INLINE_UNSAFE_TYPES:
        return False
    return media_type in _INLINE_SAFE_TYPES or media_type.startswith(_INLINE_SAFE_PREFIXES)


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """The header value naming ``filename``, e.g. for ``Compte rendu été.pdf``::

        attachment; filename="Compte rendu ete.pdf"; filename*=UTF-8''Compte%20rendu%20%C3%A9t%C3%A9.pdf

    The result is pure ASCII and contains no quote, CR or LF coming from the name, whatever
    the name holds, so it cannot break out of the header. ``inline`` only chooses the
    disposition type; callers decide with :func:`inline_allowed` whether inline is safe.
    """
    name = clean_filename(filename)
    disposition = "inline" if inline else "attachment"
    fallback = ascii_fallback(name)
    value = f'{disposition}; filename="{fallback}"'
    if fallback != name:
        value += "; filename*=UTF-8''" + quote(name, safe=_ATTR_CHAR_SAFE)
    return value
