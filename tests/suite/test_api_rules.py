"""The rules the OpenAPI document declares for inputs are the services' own rules.

Where a service checks a field itself (with its own code and message), the schema only
documents the rule as a pattern (``suite.schemas.documented``). Each pattern here is held
against the check it documents: every string the pattern accepts passes the check, and on
any string, the pattern and the check agree. A pattern that drifts from its service makes
clients and fuzzers send what is refused (or keep back what is accepted)."""

from __future__ import annotations

import re
import sys
import unicodedata

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite.errors import SuiteError

pytestmark = pytest.mark.django_db

RULES = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

# Characters around which the rules turn: whitespace that is and is not a control character,
# controls, format characters, separators, dots, slashes, emoji parts, letters.
TRICKY = (
    " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u2029\u3000\u200b\u200d\u202e\ufeff"
    "\x00\x01\x07\x1b\x7f\x9f./\\:_-+#*0aZé\u0301\u2329👍\U0001f3fd\U0001f1eb\U0001f1f7\ufe0f\u20e3"
)
tricky_text = st.text(alphabet=TRICKY, max_size=12)


def passes(check, value) -> bool:
    try:
        check(value)
    except (SuiteError, ValueError):
        return False
    return True


def agree(pattern: str, check, *, max_length: int | None = None):
    """``pattern`` (and ``max_length``, when the schema declares one) accept what ``check``
    accepts, read by Python as by an ECMA 262 engine (JSON Schema's: jsonschema-rs, which
    schemathesis and other validators use)."""
    compiled = re.compile(pattern)
    ecma = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})

    def declared(value: str) -> bool:
        matched = bool(compiled.search(value))
        assert ecma.is_valid(value) == matched, f"Python and ECMA read {value!r} differently"
        return matched and (max_length is None or len(value) <= max_length)

    @RULES
    @given(st.from_regex(compiled).filter(declared))
    def accepted_by_the_pattern_means_accepted(value):
        assert passes(check, value), repr(value)

    @RULES
    @given(tricky_text | st.text(max_size=12))
    def same_answer(value):
        assert declared(value) == passes(check, value), repr(value)

    accepted_by_the_pattern_means_accepted()
    same_answer()


def test_drive_titles():
    from drive_app.schemas.items import TITLE_PATTERN
    from drive_app.services.items.titles import clean_title

    agree(TITLE_PATTERN, clean_title)
    assert re.search(TITLE_PATTERN, "a" * 255) and not re.search(TITLE_PATTERN, "a" * 256)
    assert re.search(TITLE_PATTERN, "\t" + "a" * 255 + "  ")


def test_drive_title_characters_are_unicodes_own():
    """The forbidden class is written out for Unicode 14: a newer Python must update it."""
    from drive_app.schemas.items import _FORBIDDEN

    forbidden = re.compile(f"[{_FORBIDDEN}]")
    for point in range(sys.maxunicode + 1):
        character = chr(point)
        expected = character in "/\\" or (
            unicodedata.category(character) in {"Cc", "Cf", "Zl", "Zp"} and character != "\u200d"
        )
        assert bool(forbidden.match(character)) == expected, hex(point)


def test_document_titles():
    from docs_app.schemas.documents import TITLE_PATTERN, DocumentCreateIn

    agree(TITLE_PATTERN, lambda title: DocumentCreateIn(title=title))
    assert re.search(TITLE_PATTERN, " " + "a" * 255 + "\n") and not re.search(TITLE_PATTERN, "a" * 256)


def test_comment_bodies_and_anchors():
    from docs_app.schemas.comments import ANCHOR_PATTERN, BODY_PATTERN
    from docs_app.services.comments import clean_anchor, clean_body

    agree(BODY_PATTERN, clean_body)
    agree(ANCHOR_PATTERN, clean_anchor)
    assert re.search(BODY_PATTERN, " " + "é" * 10_000 + "\n")
    assert not re.search(BODY_PATTERN, "é" * 10_001)


def test_reaction_emoji():
    from docs_app.services.comments import EMOJI_MAX_LENGTH, EMOJI_PATTERN, clean_emoji

    agree(EMOJI_PATTERN, lambda emoji: len(emoji) <= EMOJI_MAX_LENGTH and clean_emoji(emoji))


def test_team_and_token_names():
    from suite.identity.services import TEAM_NAME_MAX, _validate_team_name
    from suite.schemas import stripped_pattern

    agree(stripped_pattern(TEAM_NAME_MAX), _validate_team_name)


def test_declared_file_types_and_digests():
    from drive_app.schemas.items import CONTENT_TYPE_PATTERN, SHA256_PATTERN
    from drive_app.services.uploads.start import validate_declared
    from suite.storage.validation import CONTENT_TYPE_MAX_LENGTH

    agree(CONTENT_TYPE_PATTERN, lambda value: validate_declared(0, value, None),
          max_length=CONTENT_TYPE_MAX_LENGTH)
    agree(SHA256_PATTERN, lambda value: validate_declared(0, None, value) and value)
    assert not re.search(SHA256_PATTERN, "0" * 64 + "\n")


def test_websocket_ticket_paths():
    from suite.realtime.api import TICKET_PATH_PATTERN
    from suite.realtime.tickets import normalize_ticket_path

    agree(TICKET_PATH_PATTERN, normalize_ticket_path, max_length=512)
    compiled = re.compile(TICKET_PATH_PATTERN)

    @RULES
    @given(st.text(alphabet="/ws.a%\n~", max_size=12).map("/ws/".__add__))
    def below_ws(value):
        assert bool(compiled.search(value)) == passes(normalize_ticket_path, value), repr(value)

    below_ws()


def test_user_search_minimum():
    from suite.identity.api import SearchQuery
    from suite.identity.selectors import SEARCH_MIN_LENGTH

    pattern = SearchQuery.__metadata__[0].json_schema["pattern"]
    agree(pattern, lambda q: len(q.strip()) >= SEARCH_MIN_LENGTH or (_ for _ in ()).throw(ValueError))
