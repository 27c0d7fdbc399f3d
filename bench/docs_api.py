"""Latency and query count of the documents list and tree endpoints on 10,000+ documents.

Run: ``python bench/docs_api.py`` (``--requests 100`` for a quicker run; ``--help``).

What it does:

1. prepares a dedicated PostgreSQL database (``--database-url``, default
   ``postgresql://postgres@127.0.0.1:5432/communs_bench_docs``: created if missing, migrated,
   its documents emptied);
2. inserts a tree with ``bulk_create`` and computed materialized paths: 20 roots, 10 folders
   under each, 10 sub-folders under each folder, 4 pages under each sub-folder (10,220
   documents), owned by 50 users; the measured user owns 2 roots, is editor of 5 roots
   through a team, reader of 50 sub-folders shared directly, and sees 3 roots through an
   ``authenticated`` link and 2 folders through a ``public`` link; 30 favorites, 50 visits;
3. measures, in process with Django's test ``Client`` (the full Django + ninja + PostgreSQL
   path, without an HTTP server in front: see bench/asgi_servers.py for that part), p50 and
   p99 over ``--requests`` calls after a warm-up, and the number of SQL queries of one call.

Results go to stdout as a Markdown table (copy into bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from reporting import cpu_model, postgresql_version

from suite.embedded.engines import ensure_database_at

ROOTS, FOLDERS, SUBFOLDERS, PAGES = 20, 10, 10, 4


def setup_django(url: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suite.settings")
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.setdefault("SUITE_APPS", "docs")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate() -> dict:
    """Insert the tree and the sharing; return the ids the measures need."""
    from django.contrib.auth.models import Group
    from django.db import connection

    from docs_app.models import Document, DocumentAccess, Favorite, Visit
    from suite.access.models import path_segment
    from suite.access.roles import Role
    from suite.identity.models import Team, TeamMembership, User

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE docs_app_document CASCADE")
    User.objects.filter(email__endswith="@bench.example").delete()
    Team.objects.filter(name__startswith="bench ").delete()
    Group.objects.filter(name__startswith="bench ").delete()
    users = User.objects.bulk_create(
        [User(email=f"user{i}@bench.example", full_name=f"User {i}") for i in range(50)]
    )
    me = users[0]
    teams = []
    for i in range(3):
        group = Group.objects.create(name=f"bench team {i}")
        teams.append(Team.objects.create(name=f"bench team {i}", group=group))
    TeamMembership.objects.bulk_create(
        [TeamMembership(team=teams[0], user=me), TeamMembership(team=teams[1], user=me)]
        + [TeamMembership(team=teams[i % 3], user=u) for i, u in enumerate(users[1:])]
    )

    documents: list[Document] = []
    levels: list[list[Document]] = [[], [], [], []]

    def add(path: str, depth: int, index: int, owner: User, children: int) -> Document:
        document = Document(
            path=path,
            depth=depth,
            title=f"Document {len(documents)} niveau {depth}",
            creator=owner,
            position=float(index + 1),
            child_counter=children,
        )
        documents.append(document)
        levels[depth - 1].append(document)
        return document

    for r in range(ROOTS):
        owner = users[r % len(users)] if r >= 2 else me
        root_path = path_segment(r)
        add(root_path, 1, r, owner, FOLDERS)
        for f in range(FOLDERS):
            folder_path = root_path + path_segment(f)
            add(folder_path, 2, f, owner, SUBFOLDERS)
            for s in range(SUBFOLDERS):
                sub_path = folder_path + path_segment(s)
                add(sub_path, 3, s, owner, PAGES)
                for p in range(PAGES):
                    add(sub_path + path_segment(p), 4, p, owner, 0)
    for document in levels[0][2:5]:
        document.link_reach = "authenticated"
    for document in levels[1][60:62]:
        document.link_reach = "public"
    Document.objects.bulk_create(documents, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval('docs_document_root_seq', %s)", [ROOTS])

    accesses = [
        DocumentAccess(resource=root, user=root.creator, role=Role.OWNER) for root in levels[0]
    ]
    accesses += [
        DocumentAccess(resource=root, team=teams[0], role=Role.EDITOR) for root in levels[0][5:10]
    ]
    accesses += [
        DocumentAccess(resource=root, team=teams[2], role=Role.READER) for root in levels[0][10:15]
    ]
    accesses += [
        DocumentAccess(resource=sub, user=me, role=Role.READER) for sub in levels[2][1000:1050]
    ]
    accesses += [
        DocumentAccess(resource=sub, user=users[1 + i % 49], role=Role.COMMENTER)
        for i, sub in enumerate(levels[2][:500])
    ]
    DocumentAccess.objects.bulk_create(accesses, batch_size=2000)
    Favorite.objects.bulk_create([Favorite(user=me, document=d) for d in levels[3][::300][:30]])
    Visit.objects.bulk_create([Visit(user=me, document=d) for d in levels[2][::40][:50]])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "me": me,
        "count": len(documents),
        "root": levels[0][0],
        "folder": levels[1][0],
        "subfolder": levels[2][0],
        "page": levels[3][5],
    }


def existing_ids() -> dict:
    """The same ids as ``populate`` returns, read from data already in place (paths were
    generated in path order, so "the n-th at depth d" is the n-th path at that depth)."""
    from docs_app.models import Document
    from suite.identity.models import User

    def nth(depth: int, index: int) -> Document:
        return Document.objects.filter(depth=depth).order_by("path")[index]

    return {
        "me": User.objects.get(email="user0@bench.example"),
        "count": Document.objects.count(),
        "root": nth(1, 0),
        "folder": nth(2, 0),
        "subfolder": nth(3, 0),
        "page": nth(4, 5),
    }


def measure(client, headers: dict, path: str, requests: int) -> tuple[float, float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(10):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.content[:300])
    timings = []
    for _ in range(requests):
        start = time.perf_counter()
        client.get(path, headers=headers)
        timings.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as context:
        response = client.get(path, headers=headers)
    body = response.json()
    items = len(body) if isinstance(body, list) else len(body.get("items", [body]))
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return statistics.median(timings), p99, len(context.captured_queries), items


def machine() -> str:
    pg = postgresql_version()
    import django

    return (
        f"{os.cpu_count()} cores {cpu_model()}, Python {platform.python_version()}, Django "
        f"{django.get_version()}, PostgreSQL {pg} on the same machine, "
        f"{time.strftime('%Y-%m-%d')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/communs_bench_docs"
        ),
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--skip-populate", action="store_true", help="reuse the data in place")
    args = parser.parse_args()
    ensure_database_at(args.database_url)
    setup_django(args.database_url)

    from django.test import Client

    from suite.identity.tokens import token_create

    ids = existing_ids() if args.skip_populate else populate()
    token = token_create(actor=None, user=ids["me"], name="bench", scopes=[])[1]
    headers = {"Authorization": f"Bearer {token}"}
    client = Client()
    api = "/api/v1/documents/"
    cases = [
        ("GET /api/v1/users/me (floor: token auth + one query)", "/api/v1/users/me"),
        ("GET /api/v1/documents/?limit=50 (entry points)", f"{api}?limit=50"),
        ("GET /api/v1/documents/?limit=5", f"{api}?limit=5"),
        ("GET /api/v1/documents/?scope=shared&limit=50", f"{api}?scope=shared&limit=50"),
        (
            "GET /api/v1/documents/?q=document 1234&limit=50 (search)",
            f"{api}?q=document%201234&limit=50",
        ),
        ("GET /api/v1/documents/?parent=<root>", f"{api}?parent={ids['root'].pk}"),
        ("GET /api/v1/documents/?parent=<sub-folder>", f"{api}?parent={ids['subfolder'].pk}"),
        ("GET /{id}/children (root, 10 children)", f"{api}{ids['root'].pk}/children"),
        ("GET /{id}/children (sub-folder, 4 children)", f"{api}{ids['subfolder'].pk}/children"),
        ("GET /{id}/tree (page at depth 4)", f"{api}{ids['page'].pk}/tree"),
        ("GET /{id}/tree (folder at depth 2)", f"{api}{ids['folder'].pk}/tree"),
        ("GET /favorites", f"{api}favorites"),
        ("GET /recent", f"{api}recent"),
    ]
    print(f"{ids['count']} documents; {machine()}\n", flush=True)
    print("| endpoint | items | p50 ms | p99 ms | SQL queries |")
    print("|---|---|---|---|---|")
    for label, path in cases:
        p50, p99, queries, items = measure(client, headers, path, args.requests)
        print(f"| {label} | {items} | {p50:.1f} | {p99:.1f} | {queries} |", flush=True)


if __name__ == "__main__":
    main()
