"""What each user sees at ``/dav/``, and how DAV paths map to drive items.

- ``/dav/`` is the user's own workspace: its children are the top-level entries.
- Beside them, one entry per item shared with the user (``item_roots``: granted to them or
  to one of their teams, outside their own workspace), under its title. An item shared
  inside another shared folder is reached through that folder only (no duplicate tree).
- Names: a shared entry whose title is used by a workspace item or by another shared entry
  (case-insensitively) is shown as ``Title (1a2b3c4d).ext``, the suffix being the start of
  its id: stable whatever else is shared later, the same in every language, and never
  renaming the user's own items. Moving a shared entry within ``/dav/`` renames it in
  place: it stays where its owner keeps it.
- Below the top level, names are item titles (unique among siblings, case-insensitively,
  NFC-normalized: lookups normalize the same way, so a macOS client's NFD names resolve).
- What the user cannot see does not exist (404), like in the REST API. Files that have no
  version that passed every check (first upload still being analyzed, rejected, infected)
  are not listed: nothing unchecked is ever served, and sync clients are not shown files
  they could not download.

Locks and dead properties are stored against *canonical* URLs built from the tree path
(``/0000001/000000a``), not the user's DAV path: the same item has one URL for everyone
(another user's lock on a shared folder is seen and honoured), and ancestor/descendant
relations, which WsgiDAV's lock manager derives from URL prefixes, are those of the tree.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from urllib.parse import quote

from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Lower

from drive_app.dav.session import DavSession
from drive_app.models import Item, ItemType
from drive_app.selectors.items import item_roots
from drive_app.services.items import workspace_for
from suite.access.models import PATH_STEP
from suite.access.resolve import annotate_roles
from suite.access.roles import Role

MOUNT_PATH = "/dav"
#: Characters left unescaped in hrefs (as WsgiDAV does: Nautilus chokes on "%28").
HREF_SAFE = "/!*'(),$-_|.~"


class Root:
    """Marker for ``/dav/`` itself (the user's workspace, plus the shared entries)."""


ROOT = Root()


# --- canonical URLs ---------------------------------------------------------------------------


def ref_of(item: Item) -> str:
    """The canonical URL of ``item``: its tree path, one URL segment per level."""
    return ref_of_path(item.path)


def ref_of_path(path: str) -> str:
    """The canonical URL of the item at tree path ``path``."""
    return "/" + "/".join(path[i : i + PATH_STEP] for i in range(0, len(path), PATH_STEP))


def tree_path_of_ref(ref: str) -> str:
    return ref.strip("/").replace("/", "")


def href_of(dav_path: str, *, collection: bool = False) -> str:
    path = dav_path if not collection or dav_path.endswith("/") else dav_path + "/"
    return quote(MOUNT_PATH + path, safe=HREF_SAFE)


# --- names -----------------------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """A path segment as titles are stored (``clean_title`` normalizes the same way)."""
    return unicodedata.normalize("NFC", name).strip()


def split_path(path: str) -> list[str]:
    """The names of a DAV path, each normalized, the characters escaped for WsgiDAV's
    parser (:func:`escape_for_parser`) read back."""
    return [normalize_name(segment) for segment in unescape_path(path).split("/") if segment.strip()]


# --- paths through WsgiDAV's Destination parser ------------------------------------------------

#: Characters WsgiDAV's parse of a ``Destination`` (``urlparse`` of the decoded URL) cuts or
#: drops: a query (``?``), path parameters (``;``, in the last segment), tabs and line breaks
#: (removed anywhere); and ``#``, which it keeps only because it passes
#: ``allow_fragments=False``.
PARSER_LOST = frozenset("?;#\t\r\n")
#: Starts an escape: NUL, which no DAV path can hold (refused in front of WsgiDAV, in the
#: request path and in header URLs), so an escape is never mistaken for a name's text.
ESCAPE = "\x00"
_ESCAPED = re.compile(ESCAPE + "([0-9A-F]{2})")


def escape_for_parser(path: str) -> str:
    """``path`` with each character WsgiDAV's parser would lose written as NUL and its two
    hex digits (``what?.txt``: ``what\\x003F.txt``); :func:`unescape_path` reads it back."""
    return "".join(f"{ESCAPE}{ord(char):02X}" if char in PARSER_LOST else char for char in path)


def unescape_path(path: str) -> str:
    """The path :func:`escape_for_parser` escaped (any other path unchanged)."""
    if ESCAPE not in path:
        return path
    return _ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), path)


def _suffixed(title: str, suffix: str) -> str:
    stem, dot, extension = title.rpartition(".")
    if not dot or not stem:
        return f"{title} ({suffix})"
    return f"{stem} ({suffix}).{extension}"


def listable(queryset: QuerySet[Item]) -> QuerySet[Item]:
    """Live folders, and live files that have a ready version."""
    return queryset.filter(ancestors_deleted_at__isnull=True).filter(
        Q(type=ItemType.FOLDER) | Q(current_version__isnull=False)
    )


def is_listable(item: Item) -> bool:
    return item.ancestors_deleted_at is None and (item.type == ItemType.FOLDER or item.current_version_id is not None)


# --- the top level -------------------------------------------------------------------------------


def workspace(session: DavSession) -> Item:
    """The user's personal root (created on first use); the user owns it."""
    if session.workspace is None:
        home = Item.objects.filter(workspace_owner=session.user).first() or workspace_for(session.user)
        home.effective_role = Role.OWNER  # type: ignore[attr-defined]  # workspace_for grants it
        session.workspace = home
    return session.workspace


def root_entries(session: DavSession) -> dict[str, Item]:
    """Lower-cased name → item for everything at ``/dav/``, each with its ``dav_name``:
    the workspace's children first (their own titles), then the shared entries."""
    if session.roots is not None:
        return session.roots
    home = workspace(session)
    children = list(annotate_roles(listable(Item.objects.filter(parent=home)), session.user).order_by(Lower("title"), "pk"))
    shared: list[Item] = []
    for item in sorted(item_roots(session.user), key=lambda root: root.path):
        if item.pk == home.pk or not is_listable(item):
            continue
        if shared and item.path.startswith(shared[-1].path):
            continue  # inside another shared entry: reached through it
        shared.append(item)
    own_names = Counter(child.title.lower() for child in children)
    shared_names = Counter(item.title.lower() for item in shared)
    entries: dict[str, Item] = {}
    for child in children:
        child.dav_name = child.title  # type: ignore[attr-defined]
        entries[child.title.lower()] = child
    for item in sorted(shared, key=lambda root: (root.title.lower(), root.pk)):
        name = item.title
        if own_names[name.lower()] or shared_names[name.lower()] > 1:
            name = _suffixed(item.title, item.pk.hex[:8])
            if name.lower() in entries:
                name = _suffixed(item.title, item.pk.hex)
        item.dav_name = name  # type: ignore[attr-defined]
        entries[name.lower()] = item
    session.roots = entries
    return entries


def is_shared_entry(session: DavSession, item: Item) -> bool:
    """Whether ``item`` is one of the shared entries of ``/dav/`` (not in the workspace)."""
    home = workspace(session)
    entry = root_entries(session).get(getattr(item, "dav_name", item.title).lower())
    return entry is not None and entry.pk == item.pk and item.parent_id != home.pk


# --- resolution ------------------------------------------------------------------------------------


def child_named(session: DavSession, folder: Item, name: str) -> Item | None:
    """The listable child of ``folder`` titled ``name`` (case-insensitively), with the
    user's role on it."""
    queryset = listable(Item.objects.filter(parent=folder)).annotate(_lower=Lower("title")).filter(
        _lower=Lower(Value(name))
    ).annotate(current_key=F("current_version__key"))  # a GET needs nothing else
    child = annotate_roles(queryset, session.user).first()
    if child is not None:
        child.dav_name = child.title  # type: ignore[attr-defined]
    return child


def resolve(session: DavSession, path: str) -> tuple[Root | Item | None, str]:
    """What ``path`` names for the user (``ROOT``, an item, or None) and its canonical DAV
    path (the real names, "/" for the root)."""
    segments = split_path(path)
    if not segments:
        return ROOT, "/"
    # The user's own items keep their names at the top level: one lookup finds them; the
    # shared entries (and their names) are only computed for a name that is not one.
    item: Item | None = child_named(session, workspace(session), segments[0])
    if item is None:
        item = root_entries(session).get(segments[0].lower())
    if item is None:
        return None, path
    names = [item.dav_name]  # type: ignore[attr-defined]
    for depth, segment in enumerate(segments[1:], start=1):
        if item.type != ItemType.FOLDER:
            return None, path
        # Remembered for this request: WsgiDAV asks for the parent of a target next.
        session.folders["/" + "/".join(segments[:depth])] = (item, "/" + "/".join(names))
        item = child_named(session, item, segment)
        if item is None:
            return None, path
        names.append(item.title)
    return item, "/" + "/".join(names)


def dav_path_of_ref(session: DavSession, ref: str) -> str | None:
    """The user's DAV path of the item whose canonical URL is ``ref`` (None: not visible);
    a folder's ends with "/"."""
    tree_path = tree_path_of_ref(ref)
    if not tree_path:
        return None
    home = workspace(session)
    if tree_path == home.path:
        return "/"
    chain = list(
        Item.objects.filter(path__in=[tree_path[:end] for end in range(PATH_STEP, len(tree_path) + 1, PATH_STEP)])
        .order_by("depth")
        .only("pk", "path", "type", "title", "parent_id", "ancestors_deleted_at")
    )
    if not chain or chain[-1].path != tree_path or chain[-1].ancestors_deleted_at is not None:
        return None
    slash = "/" if chain[-1].type == ItemType.FOLDER else ""
    if chain[0].pk == home.pk:
        return "/" + "/".join(node.title for node in chain[1:]) + slash
    shared = {item.pk: item.dav_name for item in root_entries(session).values()}  # type: ignore[attr-defined]
    for index, node in enumerate(chain):
        if node.pk in shared:
            return "/" + "/".join([shared[node.pk], *(n.title for n in chain[index + 1 :])]) + slash
    return None
