"""Item titles: validation, the sibling that holds a title (compared as the unique index
folds it), free names (``name (2).ext``) and the conflict policies."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db.models import Value
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from drive_app.models import (
    TITLE_MAX_LENGTH,
    Item,
)
from suite.errors import Conflict, ValidationFailed

ROOT_SEQUENCE = "drive_item_root_seq"
CONFLICT_POLICIES = ("error", "rename")
_SUFFIX = re.compile(r"^(?P<stem>.*?) \((?P<n>\d+)\)$")


def clean_title(title: Any) -> str:
    """A valid item title (NFC-normalized, surrounding spaces removed), or a 422 naming what is
    wrong: empty, too long, ``.``/``..``, a ``/`` or ``\\``, or a control character."""
    if not isinstance(title, str):
        raise ValidationFailed(_("The title must be a string."), details={"field": "title"})
    cleaned = unicodedata.normalize("NFC", title).strip()
    problem = None
    if not cleaned:
        problem = _("The title cannot be empty.")
    elif len(cleaned) > TITLE_MAX_LENGTH:
        problem = _("The title is longer than %(max)s characters.") % {"max": TITLE_MAX_LENGTH}
    elif cleaned in {".", ".."}:
        problem = _("“.” and “..” are not valid titles.")
    elif "/" in cleaned or "\\" in cleaned:
        problem = _("A title cannot contain “/” or “\\”.")
    elif any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} and ch != "\u200d" for ch in cleaned):
        problem = _("A title cannot contain control characters.")
    if problem:
        raise ValidationFailed(problem, code="invalid_title", status=422, details={"field": "title"})
    return cleaned


def _sibling_with_title(parent: Item, title: str, *, exclude: Any = None) -> Item | None:
    queryset = Item.objects.filter(
        parent=parent, ancestors_deleted_at__isnull=True
    ).annotate(lower_title=Lower("title")).filter(lower_title=Lower(Value(title)))  # as the unique index folds
    if exclude is not None:
        queryset = queryset.exclude(pk=exclude)
    return queryset.first()


def _suffixed(title: str, number: int) -> str:
    stem, dot, extension = title.rpartition(".")
    if not dot or not stem:  # no extension (or a dotfile): the suffix goes at the end
        stem, extension = title, ""
    match = _SUFFIX.match(stem)
    if match:
        stem = match.group("stem")
    suffix = f" ({number})"
    if extension and len(extension) + 1 + len(suffix) + 1 > TITLE_MAX_LENGTH:
        stem, extension = title, ""  # an extension too long to keep: the suffix goes at the end
    base = stem[: TITLE_MAX_LENGTH - len(suffix) - (len(extension) + 1 if extension else 0)]
    return f"{base}{suffix}.{extension}" if extension else f"{base}{suffix}"


def free_title(parent: Item, title: str, *, exclude: Any = None) -> str:
    """``title``, or ``title (2)``, ``title (3)``... : the first one no live sibling uses."""
    candidate, number = title, 1
    while _sibling_with_title(parent, candidate, exclude=exclude) is not None:
        number += 1
        candidate = _suffixed(title, number)
    return candidate


def title_conflict(existing: Item) -> Conflict:
    return Conflict(
        _("An item with this title already exists here."),
        code="title_conflict",
        details={"existing": str(existing.pk), "type": existing.type},
    )


def resolve_title(parent: Item, title: str, on_conflict: str, *, exclude: Any = None) -> str:
    if on_conflict not in CONFLICT_POLICIES:
        raise ValidationFailed(
            _("on_conflict must be one of: %(choices)s.") % {"choices": ", ".join(CONFLICT_POLICIES)},
            details={"field": "on_conflict"},
        )
    existing = _sibling_with_title(parent, title, exclude=exclude)
    if existing is None:
        return title
    if on_conflict == "rename":
        return free_title(parent, title, exclude=exclude)
    raise title_conflict(existing)
