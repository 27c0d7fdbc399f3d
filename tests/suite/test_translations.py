"""The French catalog is complete and compiled (every message has a translation)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import docs_app
import drive_app
import suite

LOCALE = Path(suite.__file__).parent / "locale" / "fr" / "LC_MESSAGES"
CATALOGS = [
    Path(package.__file__).parent / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    for package in (suite, docs_app, drive_app)
]


def entries(po: str) -> list[tuple[str, str]]:
    pairs = []
    for block in po.split("\n\n"):
        msgid = re.search(r'^msgid ((?:"[^\n]*"\n?)+)', block, re.M)
        msgstr = re.search(r'^msgstr ((?:"[^\n]*"\n?)+)', block, re.M)
        if msgid and msgstr:
            join = lambda m: "".join(re.findall(r'"(.*)"', m.group(1)))  # noqa: E731
            pairs.append((join(msgid), join(msgstr)))
    return pairs


@pytest.mark.parametrize("catalog", CATALOGS, ids=lambda path: path.parts[-5])
def test_every_message_is_translated_and_none_is_fuzzy(catalog):
    po = catalog.read_text(encoding="utf-8")
    assert "#, fuzzy" not in po
    untranslated = [msgid for msgid, msgstr in entries(po) if msgid and not msgstr]
    assert untranslated == []
    # A translation pasted twice reads twice to the user.
    repeated = [msgstr for _msgid, msgstr in entries(po)
                if any(len(msgstr) % n == 0 and msgstr and msgstr == msgstr[: len(msgstr) // n] * n for n in (2, 3))]
    assert repeated == []
    assert len(entries(po)) > 20
    assert catalog.with_suffix(".mo").stat().st_size > 0


def test_compiled_catalog_translates():
    assert (LOCALE / "django.mo").stat().st_size > 0
    from django.utils.translation import gettext, override

    with override("fr"):
        assert gettext("Not found.") == "Introuvable."
