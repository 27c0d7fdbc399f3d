"""Reads of documents, already scoped to what the actor may see, each annotated so a page
costs a constant number of queries: ``effective_role`` (the access layer's correlated
subqueries), ``parent_id`` (the row whose path is this path minus one segment: a unique index
lookup), ``is_favorite`` (``EXISTS``) and ``nb_children`` (a counted subquery).

The main list ("all", no ``q``, no ``parent``) shows the actor's *entry points*: documents
on which the actor or one of their teams holds an access on the document itself. That is the
roots they created (their creator is their owner) and what was shared with them directly;
the descendants of a shared folder are reached through it (``parent=``) or by search
(``q=``), so one shared folder of 10,000 pages does not flood the list.
"""

from __future__ import annotations

from typing import Any

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat, Left, Length

from docs_app.models import Document, DocumentAccess, Favorite, Visit
from docs_app.permissions import documents
from docs_app.search import SEARCH_ORDERING, search
from suite.access.models import PATH_STEP
from suite.access.resolve import (
    IsAncestorPath,
    annotate_roles,
    explicitly_shared_with,
    team_ids_of,
    visible_to,
)
from suite.access.roles import Perm


def _authenticated(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False))


def children_of(document: Document) -> QuerySet[Document]:
    """The live children of ``document`` (any visibility: children inherit their parent's)."""
    return documents().filter(path__startswith=document.path, depth=document.depth + 1)


def parent_id_of(document: Document) -> Any:
    if document.depth <= 1:
        return None
    return Document.objects.filter(path=document.path[:-PATH_STEP]).values_list("id", flat=True).first()


def parent_id_subquery() -> Subquery:
    parent_path = Left(OuterRef("path"), Length(OuterRef("path")) - PATH_STEP)
    return Subquery(Document.objects.filter(path=parent_path).values("id")[:1])


def nb_children_subquery() -> Any:
    children = (
        Document.objects.filter(
            ancestors_deleted_at__isnull=True,
            # A range rather than LIKE: a parameterized prefix cannot use the index, a range
            # can ("~" sorts after every path character in the C collation).
            path__gt=OuterRef("path"),
            path__lt=Concat(OuterRef("path"), Value("~")),
            depth=OuterRef("depth") + 1,
        )
        .order_by()
        .values("depth")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(children, output_field=IntegerField()), Value(0))


def with_annotations(queryset: QuerySet[Document], actor: Any) -> QuerySet[Document]:
    """Add everything ``DocumentOut`` reads (role left to the caller, see ``visible_to``)."""
    if _authenticated(actor):
        favorite: Any = Exists(Favorite.objects.filter(user_id=actor.pk, document_id=OuterRef("pk")))
    else:
        favorite = Value(False)
    return queryset.annotate(
        parent_id=parent_id_subquery(),
        is_favorite=favorite,
        nb_children=nb_children_subquery(),
    )


def document_detail(actor: Any, document: Document) -> Document:
    """``document`` re-read with every annotation (role included)."""
    queryset = annotate_roles(documents(include_deleted=True).filter(pk=document.pk), actor)
    return with_annotations(queryset, actor).get()


def direct_access_ids(actor: Any) -> QuerySet[DocumentAccess, dict[str, Any]]:
    """Ids of the documents on which the actor or one of their teams holds an access on the
    document itself (not inherited)."""
    return DocumentAccess.objects.filter(
        Q(user_id=actor.pk) | Q(team_id__in=team_ids_of(actor))
    ).values("resource_id")


ORDERINGS = {
    "-updated_at": ("-updated_at", "-pk"),
    "updated_at": ("updated_at", "pk"),
    "title": ("title", "pk"),
    "-title": ("-title", "-pk"),
    "created_at": ("created_at", "pk"),
    "-created_at": ("-created_at", "-pk"),
}


def document_list(
    actor: Any,
    *,
    scope: str = "all",
    q: str | None = None,
    parent: Document | None = None,
    ordering: str = "-updated_at",
) -> QuerySet[Document]:
    """The documents list, see the module docstring for what ``scope="all"`` shows.

    ``mine``: created by the actor; ``shared``: granted to the actor or their teams (on the
    document or, with ``q``/``parent``, on an ancestor) but not created by them;
    ``favorites``: the actor's favorites (at any depth). ``parent`` lists the visible children
    of that document; ``q`` searches the title and content of every visible document
    (``docs_app.search``): results come best match first, then in ``ordering``, each with a
    ``snippet``.
    """
    queryset = documents()
    if parent is not None:
        queryset = queryset.filter(path__startswith=parent.path, depth=parent.depth + 1)
    if q:
        queryset = search(queryset, q)
    browsing = parent is None and not q
    if scope == "favorites":
        queryset = queryset.filter(
            pk__in=Favorite.objects.filter(user_id=actor.pk).values("document_id")
        )
    elif browsing:
        # The ids first (one indexed query), then primary-key probes: as a semi-join, the
        # planner misestimates "user or one of their teams" and scans the whole table.
        queryset = queryset.filter(
            pk__in=list(direct_access_ids(actor).values_list("resource_id", flat=True))
        )
    if scope == "mine":
        queryset = queryset.filter(creator_id=actor.pk)
    elif scope == "shared":
        queryset = queryset.exclude(creator_id=actor.pk)
        if not browsing:
            queryset = explicitly_shared_with(queryset, actor)
    if scope != "favorites" and (parent is not None or browsing):
        # Already visible by construction: a direct grant gives at least reader, and the
        # children of a parent the caller checked inherit its visibility. Skipping the
        # role filter keeps the role out of the WHERE clause (computed once per row).
        queryset = annotate_roles(queryset, actor)
    else:
        queryset = visible_to(queryset, actor, Perm.VIEW)
    order = (*SEARCH_ORDERING, *ORDERINGS[ordering]) if q else ORDERINGS[ordering]
    return with_annotations(queryset, actor).order_by(*order)


def document_children(actor: Any, document: Document) -> QuerySet[Document]:
    """Children of ``document`` visible to the actor (all of them, unless one was shared
    more narrowly... children inherit, so all), in sibling order."""
    # The caller checked VIEW on ``document``: its children inherit that visibility.
    queryset = annotate_roles(children_of(document), actor)
    return with_annotations(queryset, actor).order_by("position", "path")


def document_trash(actor: Any) -> QuerySet[Document]:
    """Roots of deleted subtrees the actor may restore, whose ancestors are not themselves in
    the trash (those come back with their ancestor), most recently deleted first."""
    deleted_ancestor = Document.objects.filter(
        deleted_at__isnull=False,
        depth__lt=OuterRef("depth"),
    ).filter(IsAncestorPath(F("path"), OuterRef("path")))
    queryset = (
        Document.objects.filter(deleted_at__isnull=False)
        .filter(~Exists(deleted_ancestor))
    )
    queryset = visible_to(queryset, actor, Perm.DELETE)
    return with_annotations(queryset, actor).order_by("-deleted_at", "pk")


def document_favorites(actor: Any) -> QuerySet[Document]:
    return document_list(actor, scope="favorites")


def document_recent(actor: Any) -> QuerySet[Document]:
    """Documents the actor visited and can still see, most recent visit first."""
    visited_at = Visit.objects.filter(user_id=actor.pk, document_id=OuterRef("pk")).values(
        "visited_at"
    )[:1]
    queryset = documents().filter(pk__in=Visit.objects.filter(user_id=actor.pk).values("document_id"))
    queryset = visible_to(queryset, actor, Perm.VIEW).annotate(visited_at=Subquery(visited_at))
    return with_annotations(queryset, actor).order_by("-visited_at", "pk")  # type: ignore[misc]  # annotated above


def document_tree(actor: Any, document: Document) -> list[Document]:
    """The rows of a sidebar tree around ``document``: its visible ancestors, the siblings of
    each of them and of the document (children of each ancestor), and its children. One
    query; the caller nests them by path."""
    ancestor_paths = [document.path[:end] for end in range(PATH_STEP, len(document.path), PATH_STEP)]
    condition = Q(path__startswith=document.path, depth=document.depth + 1)
    for path in ancestor_paths:
        condition |= Q(path__startswith=path, depth=len(path) // PATH_STEP + 1)
    # The roots of the tree: the topmost visible ancestor and its siblings are not listed
    # (a root's siblings are other people's roots); the topmost ancestor itself is.
    if ancestor_paths:
        condition |= Q(path=ancestor_paths[0])
    else:
        condition |= Q(pk=document.pk)
    queryset = visible_to(documents().filter(condition), actor, Perm.VIEW)
    return list(with_annotations(queryset, actor).order_by("depth", "position", "path"))
