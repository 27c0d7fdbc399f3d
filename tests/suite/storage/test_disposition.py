from __future__ import annotations

import re
from email.message import Message
from email.utils import collapse_rfc2231_value

import pytest

from suite.storage import content_disposition, inline_allowed


def parse_disposition(value: str) -> tuple[str, str | None, str | None]:
    """(type, filename, filename*) as a standard MIME parser (RFC 2231) reads them."""
    message = Message()
    message["Content-Disposition"] = value
    params = message.get_params(header="content-disposition")
    disposition, fallback, extended = params[0][0], None, None
    for name, param in params[1:]:
        if name == "filename" and isinstance(param, tuple):
            extended = collapse_rfc2231_value(param)
        elif name == "filename":
            fallback = param
    return disposition, fallback, extended


def test_content_disposition_encodes_a_utf8_name_with_an_ascii_fallback():
    value = content_disposition("Compte rendu été 2026 — final.pdf")

    assert value.isascii()
    assert parse_disposition(value) == (
        "attachment",
        "Compte rendu ete 2026 _ final.pdf",
        "Compte rendu été 2026 — final.pdf",
    )


def test_content_disposition_of_an_ascii_name_has_no_extended_parameter():
    assert content_disposition("report.pdf") == 'attachment; filename="report.pdf"'


def test_content_disposition_inline():
    assert parse_disposition(content_disposition("photo.jpg", inline=True))[0] == "inline"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ('evil"\r\nX-Injected: yes.txt', 'evil"__X-Injected: yes.txt'),
        ('a";filename="b.exe', 'a";filename="b.exe'),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("C:\\Windows\\x.bat", "C:_Windows_x.bat"),
        ("nul\x00byte.txt", "nul_byte.txt"),
        ("line\u2028sep.txt", "line_sep.txt"),
        ("  ..  ", "download"),
        ("", "download"),
    ],
)
def test_content_disposition_neutralises_hostile_names(filename, expected):
    value = content_disposition(filename)

    assert "\r" not in value and "\n" not in value and "\x00" not in value
    assert value.isascii()
    disposition, fallback, extended = parse_disposition(value)
    assert disposition == "attachment"
    assert (extended or fallback) == expected
    assert '"' not in fallback and "\\" not in fallback
    # One quoted plain name, then at most one extended name made only of RFC 8187 attr-chars
    # and percent escapes: nothing from the name can open another parameter or header.
    assert re.fullmatch(r"""attachment; filename="[^"\\]*"(; filename\*=UTF-8''[A-Za-z0-9%!#$&+.^_`|~-]*)?""", value)


def test_content_disposition_truncates_long_names_keeping_the_extension():
    _, fallback, _ = parse_disposition(content_disposition("a" * 500 + ".pdf"))

    assert len(fallback) <= 200
    assert fallback.endswith("aaa.pdf")


@pytest.mark.parametrize(
    ("content_type", "allowed"),
    [
        ("image/png", True),
        ("application/pdf", True),
        ("text/plain; charset=utf-8", True),
        ("video/mp4", True),
        ("image/svg+xml", False),
        ("text/html", False),
        ("application/xhtml+xml", False),
        ("text/javascript", False),
        (None, False),
    ],
)
def test_inline_allowed_only_for_types_that_cannot_run_script(content_type, allowed):
    assert inline_allowed(content_type) is allowed
