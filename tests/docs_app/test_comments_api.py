"""Comments API: threads, replies, edits, deletion and moderation, resolution — success,
denial and bad input, and constant query counts of the thread list.

Elsewhere: the role × action table (``test_comments_permissions.py``), reactions
(``test_comments_reactions.py``), events (``test_comments_events.py``).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from docs_app.models import Comment, CommentThread, DocumentAccess, Reaction
from suite.access.roles import LinkReach, Role
from tests.conftest import assert_error
from tests.docs_app.factories_comments import (
    make_document,
    open_thread,
    reaction_url,
    snapshot,
    threads_url,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- threads -----------------------------------------------------------------------------------


def test_create_thread_returns_it_with_its_first_comment(api, commenter, document):
    anchor = "AQLs7Ly9BgAEAQKwAQ==" * 10
    thread = open_thread(api, commenter, document, body="  Ce paragraphe est à revoir.\r\n ", anchor=anchor)
    assert thread["document"] == str(document.pk) and thread["anchor"] == anchor
    assert thread["creator"] == str(commenter.pk)
    assert thread["resolved"] is False and thread["resolved_at"] is None
    assert thread["abilities"] == {"reply": True, "resolve": True, "reopen": False, "destroy": True}
    [comment] = thread["comments"]
    assert comment["body"] == "Ce paragraphe est à revoir."
    assert comment["author"] == {"id": str(commenter.pk), "full_name": "Camille Commentatrice"}
    assert comment["edited_at"] is None and comment["reactions"] == []
    assert comment["abilities"] == {"update": True, "destroy": True, "react": True}
    stored = CommentThread.objects.get(pk=thread["id"])
    assert stored.anchor == anchor and stored.comments.get().author == commenter


def test_create_thread_with_an_empty_anchor_is_on_the_whole_document(api, commenter, document):
    assert open_thread(api, commenter, document, anchor="")["anchor"] == ""


def test_list_threads_with_comments_in_order_and_filter_resolved(api, user, commenter, document):
    first = open_thread(api, commenter, document, body="Un")
    second = open_thread(api, user, document, body="Deux")
    api(user).post(f"{threads_url(document)}{first['id']}/comments/", json={"body": "Réponse"})
    api(user).post(f"{threads_url(document)}{second['id']}/resolve")

    listed = api(commenter).get(threads_url(document)).json()
    assert listed["count"] == 2
    assert [t["id"] for t in listed["items"]] == [first["id"], second["id"]]
    assert [c["body"] for c in listed["items"][0]["comments"]] == ["Un", "Réponse"]
    # The commenter did not write the reply: no edit, no delete; the owner's thread is not theirs.
    assert listed["items"][0]["comments"][1]["abilities"] == {"update": False, "destroy": False, "react": True}
    assert listed["items"][1]["abilities"]["destroy"] is False

    open_only = api(commenter).get(threads_url(document) + "?resolved=false").json()
    assert [t["id"] for t in open_only["items"]] == [first["id"]]
    resolved_only = api(commenter).get(threads_url(document) + "?resolved=true").json()
    assert [t["id"] for t in resolved_only["items"]] == [second["id"]]
    assert resolved_only["items"][0]["resolved_by"] == str(user.pk)
    page = api(commenter).get(threads_url(document) + "?limit=1&offset=1").json()
    assert page["count"] == 2 and [t["id"] for t in page["items"]] == [second["id"]]


def test_list_threads_bad_filter(api, user, document):
    assert_error(api(user).get(threads_url(document) + "?resolved=maybe"), 422, "validation_error")
    assert_error(api(user).get(threads_url(document) + "?limit=0"), 422, "validation_error")


def test_thread_detail(api, user, commenter, document):
    thread = open_thread(api, commenter, document)
    response = api(user).get(f"{threads_url(document)}{thread['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == thread["id"] and len(body["comments"]) == 1
    # The owner moderates: may delete the thread and the comment, but never edit another's words.
    assert body["abilities"]["destroy"] is True
    assert body["comments"][0]["abilities"] == {"update": False, "destroy": True, "react": True}


def test_thread_list_query_count_is_constant(api, user, document):
    people = [UserFactory() for _ in range(4)]
    for person in people:
        DocumentAccess.objects.create(resource=document, user=person, role=Role.COMMENTER)

    def add_threads(count):
        for index in range(count):
            thread = CommentThread.objects.create(document=document, anchor=f"a{index}", creator=people[0])
            for author in people[:3]:
                comment = Comment.objects.create(thread=thread, author=author, body=f"c{index}")
                for reactor, emoji in zip(people, ["👍", "👍", "❤️", "🎉"], strict=True):
                    Reaction.objects.create(comment=comment, user=reactor, emoji=emoji)

    client = api(user)
    add_threads(5)
    client.get(threads_url(document))  # the token's first use records it: not part of the list
    with CaptureQueriesContext(connection) as few:
        small = client.get(threads_url(document))
    add_threads(25)
    with CaptureQueriesContext(connection) as many:
        large = client.get(threads_url(document))
    assert small.json()["count"] == 5 and large.json()["count"] == 30
    assert len(large.json()["items"]) == 30
    assert all(len(t["comments"]) == 3 for t in large.json()["items"])
    assert large.json()["items"][-1]["comments"][0]["reactions"] == [
        {"emoji": "👍", "count": 2, "reacted": False},
        {"emoji": "❤️", "count": 1, "reacted": False},
        {"emoji": "🎉", "count": 1, "reacted": False},
    ]
    assert len(many) == len(few)
    # token check, the document with its role, the count, threads, comments, reactions
    assert len(many) <= 8, [q["sql"] for q in many.captured_queries]


def test_thread_list_query_count_is_constant_for_anonymous_visitors(client, document):
    document.link_reach, document.link_role = LinkReach.PUBLIC, Role.READER
    document.save()
    author = UserFactory()

    def add_threads(count):
        for _ in range(count):
            thread = CommentThread.objects.create(document=document, anchor="", creator=author)
            comment = Comment.objects.create(thread=thread, author=author, body="x")
            Reaction.objects.create(comment=comment, user=author, emoji="👍")

    add_threads(3)
    with CaptureQueriesContext(connection) as few:
        client.get(threads_url(document))
    add_threads(20)
    with CaptureQueriesContext(connection) as many:
        response = client.get(threads_url(document))
    assert response.json()["count"] == 23
    assert response.json()["items"][0]["comments"][0]["reactions"] == [{"emoji": "👍", "count": 1, "reacted": False}]
    assert response.json()["items"][0]["abilities"] == {"reply": False, "resolve": False, "reopen": False, "destroy": False}
    assert len(many) == len(few)


# --- comments ------------------------------------------------------------------------------------


def test_reply_in_a_thread(api, user, commenter, document):
    thread = open_thread(api, commenter, document)
    response = api(user).post(f"{threads_url(document)}{thread['id']}/comments/", json={"body": "D'accord"})
    assert response.status_code == 201
    assert response.json()["thread"] == thread["id"] and response.json()["author"]["id"] == str(user.pk)
    assert CommentThread.objects.get(pk=thread["id"]).comments.count() == 2


def test_edit_own_comment_sets_edited_at(api, commenter, document):
    thread = open_thread(api, commenter, document)
    comment_id = thread["comments"][0]["id"]
    response = api(commenter).patch(f"{threads_url(document)}{thread['id']}/comments/{comment_id}", json={"body": "Corrigé"})
    assert response.status_code == 200
    assert response.json()["body"] == "Corrigé" and response.json()["edited_at"] is not None
    assert Comment.objects.get(pk=comment_id).edited_at is not None


def test_edit_someone_elses_comment_is_refused_even_for_the_owner(api, user, commenter, document):
    thread = open_thread(api, commenter, document, body="Original")
    comment_id = thread["comments"][0]["id"]
    response = api(user).patch(f"{threads_url(document)}{thread['id']}/comments/{comment_id}", json={"body": "Réécrit"})
    assert_error(response, 403, "permission_denied")
    assert Comment.objects.get(pk=comment_id).body == "Original"


def test_delete_someone_elses_comment_is_refused_to_a_commenter(api, user, commenter, document):
    thread = open_thread(api, user, document)
    comment_id = thread["comments"][0]["id"]
    response = api(commenter).delete(f"{threads_url(document)}{thread['id']}/comments/{comment_id}")
    assert_error(response, 403, "permission_denied")
    assert Comment.objects.filter(pk=comment_id).exists()


def test_administrator_moderates_a_reply_and_the_thread_stays(api, commenter, document):
    administrator = UserFactory()
    DocumentAccess.objects.create(resource=document, user=administrator, role=Role.ADMINISTRATOR)
    thread = open_thread(api, commenter, document)
    reply = api(commenter).post(f"{threads_url(document)}{thread['id']}/comments/", json={"body": "Hors sujet"}).json()
    response = api(administrator).delete(f"{threads_url(document)}{thread['id']}/comments/{reply['id']}")
    assert response.status_code == 204
    assert not Comment.objects.filter(pk=reply["id"]).exists()
    assert CommentThread.objects.filter(pk=thread["id"]).exists()


def test_deleting_the_first_comment_keeps_the_replies(api, user, commenter, document):
    thread = open_thread(api, commenter, document)
    api(user).post(f"{threads_url(document)}{thread['id']}/comments/", json={"body": "Réponse"})
    first = thread["comments"][0]["id"]
    assert api(commenter).delete(f"{threads_url(document)}{thread['id']}/comments/{first}").status_code == 204
    remaining = api(commenter).get(f"{threads_url(document)}{thread['id']}").json()["comments"]
    assert [c["body"] for c in remaining] == ["Réponse"]


def test_deleting_the_last_comment_deletes_the_thread(api, commenter, document):
    thread = open_thread(api, commenter, document)
    only = thread["comments"][0]["id"]
    assert api(commenter).delete(f"{threads_url(document)}{thread['id']}/comments/{only}").status_code == 204
    assert not CommentThread.objects.filter(pk=thread["id"]).exists()
    assert_error(api(commenter).get(f"{threads_url(document)}{thread['id']}"), 404, "not_found")


def test_thread_creator_deletes_the_thread_with_its_replies(api, user, commenter, document):
    thread = open_thread(api, commenter, document)
    api(user).post(f"{threads_url(document)}{thread['id']}/comments/", json={"body": "Réponse"})
    assert api(commenter).delete(f"{threads_url(document)}{thread['id']}").status_code == 204
    assert not CommentThread.objects.exists() and not Comment.objects.exists()


def test_commenter_cannot_delete_someone_elses_thread(api, user, commenter, document):
    thread = open_thread(api, user, document)
    assert_error(api(commenter).delete(f"{threads_url(document)}{thread['id']}"), 403, "permission_denied")
    assert CommentThread.objects.filter(pk=thread["id"]).exists()


# --- resolution ---------------------------------------------------------------------------------


def test_resolve_then_reopen(api, user, commenter, document):
    thread = open_thread(api, user, document)
    url = f"{threads_url(document)}{thread['id']}"
    resolved = api(commenter).post(url + "/resolve")
    assert resolved.status_code == 200
    assert resolved.json()["resolved"] is True and resolved.json()["resolved_by"] == str(commenter.pk)
    assert resolved.json()["abilities"]["reopen"] is True and resolved.json()["abilities"]["resolve"] is False
    again = api(user).post(url + "/resolve")  # idempotent: the first resolver is kept
    assert again.status_code == 200 and again.json()["resolved_by"] == str(commenter.pk)
    reopened = api(user).post(url + "/reopen")
    assert reopened.status_code == 200
    assert reopened.json()["resolved"] is False and reopened.json()["resolved_by"] is None
    stored = CommentThread.objects.get(pk=thread["id"])
    assert stored.resolved_at is None and stored.resolved_by is None


def test_reply_to_a_resolved_thread_keeps_it_resolved(api, user, commenter, document):
    thread = open_thread(api, user, document)
    url = f"{threads_url(document)}{thread['id']}"
    api(user).post(url + "/resolve")
    assert api(commenter).post(url + "/comments/", json={"body": "Encore une chose"}).status_code == 201
    assert api(commenter).get(url).json()["resolved"] is True


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"anchor": "a", "body": ""}, "body"),
        ({"anchor": "a", "body": " \n\t "}, "body"),
        ({"anchor": "a", "body": "x" * 10_001}, "body"),
        ({"anchor": "a", "body": "bip\x07"}, "body"),
        ({"anchor": "a", "body": "escape \x1b[31m"}, "body"),
        ({"anchor": "x" * 10_001, "body": "ok"}, "anchor"),
        ({"anchor": "a\x01", "body": "ok"}, "anchor"),
        ({"anchor": "a"}, "body"),
        ({"body": "ok"}, "anchor"),
        ({"anchor": 12, "body": "ok"}, "anchor"),
    ],
)
def test_create_thread_bad_input(api, commenter, document, payload, field):
    before = snapshot()
    error = assert_error(api(commenter).post(threads_url(document), json=payload), 422, "validation_error")
    assert field in str(error["details"])
    assert snapshot() == before


def test_body_of_exactly_the_maximum_length_is_accepted(api, commenter, document):
    thread = open_thread(api, commenter, document, body="é" * 10_000, anchor="x" * 10_000)
    assert len(thread["comments"][0]["body"]) == 10_000


def test_nul_character_is_refused_at_the_door(api, commenter, document):
    response = api(commenter).post(threads_url(document), json={"anchor": "a", "body": "nul \x00"})
    assert_error(response, 400, "bad_request")
    assert not CommentThread.objects.exists()


def test_lone_surrogate_is_refused_at_the_door(api, commenter, document):
    response = api(commenter).post(threads_url(document), json={"anchor": "a", "body": "\ud800"})
    assert assert_error(response, 400, "bad_request")["details"] == {"reason": "lone_surrogate"}
    assert not CommentThread.objects.exists()


@pytest.mark.parametrize("body", ["", "   ", "x" * 10_001, "a\x0bb"])
def test_reply_and_edit_bad_body(api, commenter, document, body):
    thread = open_thread(api, commenter, document, body="Original")
    url = f"{threads_url(document)}{thread['id']}/comments/"
    before = snapshot()
    assert_error(api(commenter).post(url, json={"body": body}), 422, "validation_error")
    assert_error(api(commenter).patch(url + thread["comments"][0]["id"], json={"body": body}), 422, "validation_error")
    assert snapshot() == before


def test_unknown_and_foreign_ids_are_not_found(api, user, document):
    other_document = make_document(title="Autre")
    DocumentAccess.objects.create(resource=other_document, user=user, role=Role.OWNER)
    mine = open_thread(api, user, document)
    foreign = open_thread(api, user, other_document)
    mine_comment, foreign_comment = mine["comments"][0]["id"], foreign["comments"][0]["id"]
    base = threads_url(document)
    before = snapshot()
    client = api(user)
    for path in [
        f"/api/v1/documents/{uuid.uuid4()}/threads/",
        "/api/v1/documents/not-an-id/threads/",
        f"{base}{uuid.uuid4()}",
        f"{base}not-an-id",
        f"{base}{foreign['id']}",
    ]:
        assert_error(client.get(path), 404, "not_found")
    for method, path, payload in [
        ("post", f"/api/v1/documents/{uuid.uuid4()}/threads/", {"anchor": "", "body": "x"}),
        ("post", f"{base}{foreign['id']}/comments/", {"body": "x"}),
        ("post", f"{base}{uuid.uuid4()}/resolve", None),
        ("post", f"{base}{foreign['id']}/reopen", None),
        ("delete", f"{base}{foreign['id']}", None),
        ("patch", f"{base}{mine['id']}/comments/{foreign_comment}", {"body": "x"}),
        ("patch", f"{base}{mine['id']}/comments/not-an-id", {"body": "x"}),
        ("delete", f"{base}{mine['id']}/comments/{foreign_comment}", None),
        ("delete", f"{base}{foreign['id']}/comments/{foreign_comment}", None),
        ("put", f"{base}{mine['id']}/comments/{uuid.uuid4()}/reactions/{quote('👍')}", None),
        ("put", f"{base}{foreign['id']}/comments/{mine_comment}/reactions/{quote('👍')}", None),
        ("delete", f"{base}not-an-id/comments/{mine_comment}/reactions/{quote('👍')}", None),
    ]:
        response = getattr(client, method)(path, **({"json": payload} if payload else {}))
        assert_error(response, 404, "not_found")
    assert snapshot() == before


def test_document_in_the_trash_hides_its_comments(api, user, document):
    child = make_document(parent=document, title="Enfant")
    thread = open_thread(api, user, child)
    comment_id = thread["comments"][0]["id"]
    document.deleted_at = document.ancestors_deleted_at = timezone.now()
    document.save()
    type(document).objects.filter(pk=child.pk).update(ancestors_deleted_at=document.deleted_at)
    base = threads_url(child)
    before = snapshot()
    client = api(user)
    assert_error(client.get(base), 404, "not_found")
    assert_error(client.get(f"{base}{thread['id']}"), 404, "not_found")
    assert_error(client.post(base, json={"anchor": "", "body": "x"}), 404, "not_found")
    assert_error(client.post(f"{base}{thread['id']}/comments/", json={"body": "x"}), 404, "not_found")
    assert_error(client.post(f"{base}{thread['id']}/resolve"), 404, "not_found")
    assert_error(client.delete(f"{base}{thread['id']}/comments/{comment_id}"), 404, "not_found")
    assert_error(client.put(reaction_url(child, thread, comment_id, "👍")), 404, "not_found")
    assert snapshot() == before
