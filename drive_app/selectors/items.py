"""Reads of the drive tree, each a queryset scoped to the actor and annotated with what
``ItemOut`` shows (``effective_role``, ``is_favorite``), so a page costs a constant number of
queries."""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Lower

from drive_app.models import Favorite, FileVersion, Item, ItemAccess, ItemType, Visit
from suite.access.resolve import ROLE_ANNOTATION, annotate_roles, team_ids_of
from suite.access.roles import Role

Ordering = Literal["title", "-title", "size", "-size", "updated_at", "-updated_at", "type", "-type",
                   "created_at", "-created_at"]
FOLDERS_FIRST = Q(type=ItemType.FOLDER)


def _authenticated(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False))


def with_annotations(queryset: QuerySet[Item], actor: Any) -> QuerySet[Item]:
    # Why the newest upload failed (shown with rejected/infected files), in the same query.
    reason = FileVersion.objects.filter(item=OuterRef("pk")).order_by("-number").values("state_reason")[:1]
    queryset = annotate_roles(queryset, actor).annotate(latest_reason=Subquery(reason))
    if _authenticated(actor):
        return queryset.annotate(is_favorite=Exists(Favorite.objects.filter(item=OuterRef("pk"), user=actor)))
    return queryset.annotate(is_favorite=Value(False))


def _visible(queryset: QuerySet[Item]) -> QuerySet[Item]:
    return queryset.filter(**{f"{ROLE_ANNOTATION}__gte": Role.READER})


def ordered(queryset: QuerySet[Item], ordering: str) -> QuerySet[Item]:
    """Folders first, then ``ordering`` (titles compare case-insensitively), then id."""
    descending = ordering.startswith("-")
    field = ordering.lstrip("-")
    key: Any = Lower("title") if field == "title" else field
    if field == "type":
        key = "mimetype"
    if isinstance(key, str):
        expression: Any = f"-{key}" if descending else key
    else:
        expression = key.desc() if descending else key.asc()
    is_folder = ExpressionWrapper(FOLDERS_FIRST, output_field=BooleanField())
    return queryset.annotate(folder_first=is_folder).order_by("-folder_first", expression, "pk")


def item_detail(actor: Any, item: Item) -> Item:
    return with_annotations(Item.objects.filter(pk=item.pk), actor).get()


def item_children(actor: Any, folder: Item, ordering: str = "title") -> QuerySet[Item]:
    """The children of a folder the actor can see (everything it can see inherits from the
    folder, so the role check is the folder's; each row still carries its own role)."""
    queryset = Item.objects.filter(parent=folder, ancestors_deleted_at__isnull=True)
    return ordered(with_annotations(queryset, actor), ordering)


def item_roots(actor: Any, ordering: str = "title") -> QuerySet[Item]:
    """What the actor's drive starts with: its own workspace, and every item shared with it
    directly (user or team grant) outside its own workspace."""
    if not _authenticated(actor):
        return Item.objects.none()
    granted = ItemAccess.objects.filter(Q(user=actor) | Q(team_id__in=team_ids_of(actor))).values("resource_id")
    queryset = Item.objects.filter(
        Q(workspace_owner=actor) | (Q(pk__in=granted) & ~Q(quota_owner=actor)),
        ancestors_deleted_at__isnull=True,
    )
    return ordered(_visible(with_annotations(queryset, actor)), ordering)


def item_search(actor: Any, q: str, ordering: str = "title") -> QuerySet[Item]:
    """Items whose title contains ``q`` (accent- and case-insensitive; trigram index) among
    those the actor can see."""
    from django.db.models import F, Func, TextField

    needle = Func(Value(q.lower()), function="communs_unaccent", output_field=TextField())
    haystack = Func(Func(F("title"), function="lower"), function="communs_unaccent", output_field=TextField())
    queryset = Item.objects.filter(ancestors_deleted_at__isnull=True, workspace_owner__isnull=True).annotate(
        _haystack=haystack, _needle=needle
    ).filter(_haystack__contains=F("_needle"))
    return ordered(_visible(with_annotations(queryset, actor)), ordering)


def item_trash(actor: Any) -> QuerySet[Item]:
    """What the actor may restore: items deleted themselves (not with a folder) on which it
    is editor or more."""
    queryset = with_annotations(Item.objects.filter(deleted_at__isnull=False), actor)
    return queryset.filter(**{f"{ROLE_ANNOTATION}__gte": Role.EDITOR}).order_by("-deleted_at", "pk")


def item_favorites(actor: Any) -> QuerySet[Item]:
    if not _authenticated(actor):
        return Item.objects.none()
    queryset = Item.objects.filter(favorites__user=actor, ancestors_deleted_at__isnull=True)
    return _visible(with_annotations(queryset, actor)).order_by(Lower("title"), "pk")


def item_recent(actor: Any) -> QuerySet[Item]:
    if not _authenticated(actor):
        return Item.objects.none()
    last = Visit.objects.filter(user=actor, item=OuterRef("pk")).values("visited_at")[:1]
    queryset = Item.objects.filter(visits__user=actor, ancestors_deleted_at__isnull=True).annotate(
        visited_at=last
    )
    return _visible(with_annotations(queryset, actor)).order_by("-visited_at", "pk")  # type: ignore[misc]  # annotated above
