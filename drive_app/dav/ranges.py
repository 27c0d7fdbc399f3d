"""Byte ranges of a GET or HEAD (RFC 9110 14), decided before WsgiDAV serves the file.

WsgiDAV reads ``Range`` loosely: ``bytes=-0`` gave a 206 with an empty body, ``bytes=5-2``
the last two bytes, a list with one range past the end a 416 even when another one could be
served, and several ranges only the last of them. :func:`plan_range` reads the header by
the RFC's grammar and leaves WsgiDAV either no ``Range`` (the whole file, 200) or exactly
one satisfiable range (206):

- a header that is not a valid ``bytes`` ranges-specifier (``bytes=5-2``, ``items=0-1``,
  ``bytes=x``) is ignored (14.2: a server MAY ignore an invalid one): 200;
- ranges that cannot be served (a first byte at or past the end, a suffix of length 0:
  14.1.1) are dropped; when none is left, 416 with ``Content-Range: bytes */<size>``
  (15.5.17);
- overlapping or adjacent ranges are coalesced (15.3.7); when more than one range remains,
  the header is ignored and the whole file sent (200) rather than a multipart body, which
  DAV clients do not ask for;
- ``If-Range`` (13.1.5) that does not hold (a strong comparison with the ETag, or the exact
  Last-Modified date) means the whole file too;
- an empty file has no range to serve and is sent whole (as WsgiDAV does).
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _
from wsgidav import util

from drive_app.dav.errors import DavProblem

RANGE_SPEC = re.compile(r"^(\d*)-(\d*)$")

#: A range as read from the header: (first, last) with last None for "first-", or
#: (None, suffix length) for "-suffix".
Spec = tuple[int | None, int | None]


def parse_ranges(header: str) -> list[Spec] | None:
    """The byte ranges of a ``Range`` header (RFC 9110 14.1.1), or None when it is not a
    valid ``bytes`` ranges-specifier."""
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    ranges: list[Spec] = []
    for element in specs.split(","):
        element = element.strip()
        if not element:
            continue  # RFC 9110 5.6.1: empty list elements are ignored
        match = RANGE_SPEC.match(element)
        if match is None or match.group(0) == "-":
            return None
        first, last = (int(group) if group else None for group in match.groups())
        if first is not None and last is not None and last < first:
            return None  # "bytes=5-2": syntactically invalid
        ranges.append((first, last))
    return ranges or None


def satisfiable(ranges: list[Spec], size: int) -> list[tuple[int, int]]:
    """The ranges that overlap a representation of ``size`` bytes, as (start, end) offsets
    (inclusive), clipped to it, sorted, overlapping and adjacent ones coalesced."""
    spans: list[tuple[int, int]] = []
    for first, last in ranges:
        if first is None:
            if last:  # a suffix of length 0 selects nothing
                spans.append((max(0, size - last), size - 1))
        elif first < size:
            spans.append((first, size - 1 if last is None else min(last, size - 1)))
    coalesced: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if coalesced and start <= coalesced[-1][1] + 1:
            coalesced[-1] = (coalesced[-1][0], max(end, coalesced[-1][1]))
        else:
            coalesced.append((start, end))
    return coalesced


def _if_range_holds(environ: dict[str, Any], resource: Any) -> bool:
    condition = (environ.get("HTTP_IF_RANGE") or "").strip()
    if not condition:
        return True
    if condition.startswith('"'):
        etag = resource.get_etag()
        return etag is not None and condition == f'"{etag}"'
    if condition.startswith("W/"):
        return False  # a weak validator never matches for If-Range
    seconds = util.parse_time_string(condition)
    modified = resource.get_last_modified()
    return seconds is not None and modified is not None and int(modified) == seconds


def plan_range(environ: dict[str, Any], resource: Any) -> None:
    """Rewrite or drop the request's ``Range`` header for ``resource`` (a file) as the
    module docstring says, or raise the 416."""
    header = environ.get("HTTP_RANGE")
    if header is None or not resource.support_ranges():
        return
    size = resource.get_content_length() or 0
    ranges = parse_ranges(header)
    if ranges is None or size == 0 or not _if_range_holds(environ, resource):
        del environ["HTTP_RANGE"]
        environ.pop("HTTP_IF_RANGE", None)
        return
    spans = satisfiable(ranges, size)
    if not spans:
        raise DavProblem(
            416, _("The requested range is outside the file (%(size)s bytes).") % {"size": size},
            code="range_not_satisfiable", headers=[("Content-Range", f"bytes */{size}")],
        )
    environ.pop("HTTP_IF_RANGE", None)  # decided here; WsgiDAV's looser check must not undo it
    if len(spans) > 1:
        del environ["HTTP_RANGE"]
        return
    start, end = spans[0]
    environ["HTTP_RANGE"] = f"bytes={start}-{end}"
