"""WebDAV dead properties (PROPPATCH) stored as ``DeadProperty`` rows of the item.

Implements the interface of WsgiDAV's ``PropertyManager``, keyed by the canonical URLs of
``namespace.ref_of``. Properties belong to the item, not to a path: a MOVE (any rename or
move, also through the REST API) keeps them without copying anything, a trashed item keeps
them for its restoration, and COPY duplicates them (:func:`copy_subtree_properties`).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from drive_app.dav.errors import DavProblem
from drive_app.dav.namespace import tree_path_of_ref
from drive_app.dav.session import current_session
from drive_app.dav.validation import element_depth
from drive_app.models import DeadProperty, Item

MAX_VALUE_BYTES = 64 * 1024
#: Levels of XML in a value, the property's own element included (a client's properties are
#: text or a few elements; WsgiDAV serializes values recursively, see ``validation``).
MAX_VALUE_DEPTH = 32
MAX_PROPERTIES_PER_ITEM = 200
NAME_MAX_LENGTH: int = DeadProperty._meta.get_field("name").max_length or 512


def check_value(element: Any) -> None:
    """Refuse (507, as for a value too large) a value nested deeper than MAX_VALUE_DEPTH."""
    if element_depth(element) > MAX_VALUE_DEPTH:
        raise DavProblem(
            507, _("This property is nested too deeply to be stored (at most %(max)s levels).") % {"max": MAX_VALUE_DEPTH},
            code="property_too_large",
        )


def _item_id(ref: str) -> uuid.UUID | None:
    session = current_session()
    if session is not None and ref.rstrip("/") in session.refs:
        return session.refs[ref.rstrip("/")]
    return Item.objects.filter(path=tree_path_of_ref(ref)).values_list("pk", flat=True).first()


def _properties_of(item_id: uuid.UUID) -> dict[str, str]:
    session = current_session()
    if session is not None and item_id in session.dead_properties:
        return session.dead_properties[item_id]
    properties = dict(DeadProperty.objects.filter(item_id=item_id).values_list("name", "value"))
    if session is not None:
        session.dead_properties[item_id] = properties
    return properties


def prefetch(item_ids: list[uuid.UUID]) -> None:
    """Load the dead properties of ``item_ids`` in one query into the request's session."""
    session = current_session()
    if session is None:
        return
    wanted = [pk for pk in item_ids if pk not in session.dead_properties]
    if not wanted:
        return
    for pk in wanted:
        session.dead_properties[pk] = {}
    for item_id, name, value in DeadProperty.objects.filter(item_id__in=wanted).values_list("item_id", "name", "value"):
        session.dead_properties[item_id][name] = value


def _forget(item_id: uuid.UUID) -> None:
    session = current_session()
    if session is not None:
        session.dead_properties.pop(item_id, None)


class DeadPropertyManager:
    """Dead property storage for WsgiDAV (rights are checked by the resource before)."""

    def __repr__(self) -> str:
        return "DeadPropertyManager"

    def get_properties(self, norm_url: str, environ: Any = None) -> list[str]:
        item_id = _item_id(norm_url)
        return sorted(_properties_of(item_id)) if item_id is not None else []

    def get_property(self, norm_url: str, name: str, environ: Any = None) -> str | None:
        item_id = _item_id(norm_url)
        return _properties_of(item_id).get(name) if item_id is not None else None

    def write_property(self, norm_url: str, name: str, property_value: Any, dry_run: bool = False,
                       environ: Any = None) -> None:
        item_id = _item_id(norm_url)
        if item_id is None:
            raise DavProblem(404)
        value = property_value.decode("utf-8") if isinstance(property_value, bytes) else str(property_value)
        if len(name) > NAME_MAX_LENGTH or len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise DavProblem(507, _("This property is too large to be stored."), code="property_too_large")
        existing = _properties_of(item_id)
        if name not in existing and len(existing) >= MAX_PROPERTIES_PER_ITEM:
            raise DavProblem(507, _("This resource cannot hold more properties."), code="too_many_properties")
        if dry_run:
            return
        DeadProperty.objects.update_or_create(item_id=item_id, name=name, defaults={"value": value})
        _forget(item_id)

    def remove_property(self, norm_url: str, name: str, dry_run: bool = False, environ: Any = None) -> None:
        item_id = _item_id(norm_url)
        if item_id is None or dry_run:
            return
        DeadProperty.objects.filter(item_id=item_id, name=name).delete()
        _forget(item_id)

    def remove_properties(self, norm_url: str, environ: Any = None) -> None:
        item_id = _item_id(norm_url)
        if item_id is not None:
            DeadProperty.objects.filter(item_id=item_id).delete()
            _forget(item_id)

    def copy_properties(self, src_url: str, dest_url: str, environ: Any = None) -> None:
        source, target = _item_id(src_url), _item_id(dest_url)
        if source is None or target is None:
            return
        _copy_rows({source: target})

    def move_properties(self, src_url: str, dest_url: str, with_children: bool, environ: Any = None) -> None:
        """Nothing to do: properties belong to the item, which keeps them when it moves."""
        return None


def _copy_rows(mapping: dict[uuid.UUID, uuid.UUID]) -> None:
    rows = DeadProperty.objects.filter(item_id__in=list(mapping)).values_list("item_id", "name", "value")
    copies = [DeadProperty(item_id=mapping[item_id], name=name, value=value) for item_id, name, value in rows]
    if copies:
        DeadProperty.objects.bulk_create(copies, ignore_conflicts=True)
    for target in mapping.values():
        _forget(target)


def copy_subtree_properties(source: Item, copy: Item, *, recursive: bool) -> None:
    """Give the items of ``copy``'s subtree the dead properties of their originals in
    ``source``'s subtree (matched by their titles below the copied root)."""
    scope = {"item__path__startswith": source.path} if recursive else {"item_id": source.pk}
    if not DeadProperty.objects.filter(**scope).exists():
        return
    if not recursive:
        _copy_rows({source.pk: copy.pk})
        return

    def keyed(root: Item) -> dict[tuple[str, ...], uuid.UUID]:
        rows = (
            Item.objects.filter(path__startswith=root.path, ancestors_deleted_at__isnull=True)
            .annotate(lower_title=Lower("title"))
            .order_by("depth")
            .values_list("pk", "parent_id", "lower_title")
        )
        keys: dict[uuid.UUID, tuple[str, ...]] = {}
        for pk, parent_id, title in rows:
            keys[pk] = () if pk == root.pk else (*keys.get(parent_id, ("?",)), title)
        return {key: pk for pk, key in keys.items()}

    with transaction.atomic():
        originals, copies = keyed(source), keyed(copy)
        _copy_rows({pk: copies[key] for key, pk in originals.items() if key in copies})
