from __future__ import annotations

import re

import pytest

from suite.storage import new_key, validate_content_type, validate_key, validate_namespace
from suite.storage.validation import validate_metadata, validate_prefix


def test_new_key_is_namespace_year_month_and_random_hex():
    key = new_key("drive")

    assert re.fullmatch(r"drive/\d{4}/\d{2}/[0-9a-f]{32}", key)
    validate_key(key)


def test_new_key_is_unique_per_call():
    keys = {new_key("chat/attachments") for _ in range(1000)}

    assert len(keys) == 1000
    assert all(key.startswith("chat/attachments/") for key in keys)


@pytest.mark.parametrize(
    "namespace",
    [
        "",
        "Drive",
        "drive/",
        "/drive",
        "drive//x",
        "../drive",
        "drive/../etc",
        "drive/.hidden",
        "Compte rendu.pdf",
        "été",
        "a/b/c/d",
        "x" * 33,
        "drive\nx",
        "1drive",
    ],
)
def test_new_key_rejects_a_namespace_outside_the_pattern(namespace):
    with pytest.raises(ValueError, match="namespace"):
        new_key(namespace)


@pytest.mark.parametrize("namespace", ["drive", "chat/attachments", "docs/exports/v2", "mail-bridge"])
def test_validate_namespace_accepts_constant_namespaces(namespace):
    assert validate_namespace(namespace) == namespace


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/drive/2026/01/abc",
        "drive/2026/01/abc/",
        "drive/../secret",
        "drive/./x",
        "drive/2026/01/a b",
        "drive/2026/01/été",
        "drive/2026/01/x\r\nHost: evil",
        "drive/2026/01/x?y=1",
        "drive/" + "a" * 600,
    ],
)
def test_validate_key_rejects_malformed_keys(key):
    with pytest.raises(ValueError, match="key"):
        validate_key(key)


def test_validate_key_accepts_a_derived_key():
    key = new_key("drive") + "/preview-256.webp"

    assert validate_key(key) == key


def test_validate_prefix_accepts_empty_and_trailing_slash_and_rejects_traversal():
    assert validate_prefix("") == ""
    assert validate_prefix("drive/") == "drive/"
    with pytest.raises(ValueError):
        validate_prefix("../")


@pytest.mark.parametrize(
    "content_type",
    ["application/pdf", "text/plain; charset=utf-8", 'multipart/mixed; boundary="a b"', "image/svg+xml"],
)
def test_validate_content_type_accepts_media_types(content_type):
    assert validate_content_type(content_type) == content_type


@pytest.mark.parametrize(
    "content_type",
    ["", "pdf", "text/plain\r\nX-Evil: 1", "text/plain; charset", "a/b c", "text/" + "x" * 300, "tëxt/plain"],
)
def test_validate_content_type_rejects_malformed_values(content_type):
    with pytest.raises(ValueError, match="content type"):
        validate_content_type(content_type)


def test_validate_metadata_accepts_ascii_and_rejects_the_rest():
    assert validate_metadata({"sha256": "ab" * 32, "scan-state": "clean"}) == {
        "sha256": "ab" * 32,
        "scan-state": "clean",
    }
    assert validate_metadata(None) == {}
    for bad in ({"Upper": "x"}, {"name": "été"}, {"name": "a\nb"}, {"a": "x" * 1024, "b": "y" * 1024}):
        with pytest.raises(ValueError, match="metadata"):
            validate_metadata(bad)
