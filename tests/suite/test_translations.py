"""The French catalog is complete and compiled (every message has a translation)."""

from __future__ import annotations

import re
from pathlib import Path

import suite

LOCALE = Path(suite.__file__).parent / "locale" / "fr" / "LC_MESSAGES"


def entries(po: str) -> list[tuple[str, str]]:
    pairs = []
    for block in po.split("\n\n"):
        msgid = re.search(r'^msgid ((?:"[^\n]*"\n?)+)', block, re.M)
        msgstr = re.search(r'^msgstr ((?:"[^\n]*"\n?)+)', block, re.M)
        if msgid and msgstr:
            join = lambda m: "".join(re.findall(r'"(.*)"', m.group(1)))  # noqa: E731
            pairs.append((join(msgid), join(msgstr)))
    return pairs


def test_every_message_is_translated_and_none_is_fuzzy():
    po = (LOCALE / "django.po").read_text(encoding="utf-8")
    assert "#, fuzzy" not in po
    untranslated = [msgid for msgid, msgstr in entries(po) if msgid and not msgstr]
    assert untranslated == []
    assert len(entries(po)) > 50


def test_compiled_catalog_translates():
    assert (LOCALE / "django.mo").stat().st_size > 0
    from django.utils.translation import gettext, override

    with override("fr"):
        assert gettext("Not found.") == "Introuvable."
