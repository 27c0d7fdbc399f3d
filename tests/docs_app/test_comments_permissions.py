"""Role × action table over every comments endpoint.

The document under test is a child of the document holding the grants, so every role is
inherited. Each principal tries each action on a fresh world; on success the effect is
checked, on denial the exact status and code are checked and nothing may have changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from django.utils import timezone

from docs_app.models import Comment, CommentThread, DocumentAccess, Reaction
from suite.access.roles import LinkReach, Role
from tests.conftest import assert_error
from tests.docs_app.factories_comments import make_document, snapshot
from tests.factories import TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

GRANTED = {
    "reader": Role.READER,
    "commenter": Role.COMMENTER,
    "editor": Role.EDITOR,
    "administrator": Role.ADMINISTRATOR,
    "owner": Role.OWNER,
}
# name → (link reach, link role) of the document, for principals that hold no grant.
LINKS = {
    "stranger": (LinkReach.RESTRICTED, Role.READER),
    "authenticated_link_commenter": (LinkReach.AUTHENTICATED, Role.COMMENTER),
    "anonymous_public_reader": (LinkReach.PUBLIC, Role.READER),
    "anonymous_public_commenter": (LinkReach.PUBLIC, Role.COMMENTER),
    "anonymous_public_editor": (LinkReach.PUBLIC, Role.EDITOR),
    "anonymous_authenticated": (LinkReach.AUTHENTICATED, Role.EDITOR),
    "anonymous_restricted": (LinkReach.RESTRICTED, Role.READER),
}


@dataclass
class World:
    document: Any
    actor: Any  # None for anonymous visitors
    client: Any
    author: Any  # a commenter whose thread and comments the actor does not own
    others_thread: Any
    others_comment: Any  # a reply by the author, in others_thread
    own_thread: Any  # created by the actor (by the author for principals without account)
    own_comment: Any
    resolved_thread: Any
    extra: dict = field(default_factory=dict)

    def url(self, thread, suffix=""):
        return f"/api/v1/documents/{self.document.pk}/threads/{thread.pk}{suffix}"


class Anonymous:
    def __init__(self, client):
        self.client = client

    def _call(self, method, path, json=None):
        if json is None:
            return getattr(self.client, method)(path)
        return getattr(self.client, method)(path, data=json, content_type="application/json")

    def get(self, path):
        return self._call("get", path)

    def post(self, path, json=None):
        return self._call("post", path, json or {})

    def patch(self, path, json=None):
        return self._call("patch", path, json or {})

    def put(self, path, json=None):
        return self._call("put", path, json or {})

    def delete(self, path):
        return self._call("delete", path)


@pytest.fixture
def world_for(api, client):
    def build(principal: str) -> World:
        root = make_document(title="Racine")
        document = make_document(parent=root, title="Compte rendu")
        DocumentAccess.objects.create(resource=root, user=UserFactory(), role=Role.OWNER)
        author = UserFactory()
        DocumentAccess.objects.create(resource=root, user=author, role=Role.COMMENTER)
        actor = None
        if principal in GRANTED:
            actor = UserFactory()
            DocumentAccess.objects.create(resource=root, user=actor, role=GRANTED[principal])
        elif principal == "team_member":
            membership = TeamMembershipFactory()
            actor = membership.user
            DocumentAccess.objects.create(resource=root, team=membership.team, role=Role.COMMENTER)
        else:
            reach, role = LINKS[principal]
            # The link is set on the root and inherited by the document.
            root.link_reach, root.link_role = reach, role
            root.save()
            if not principal.startswith("anonymous"):
                actor = UserFactory()

        others_thread = CommentThread.objects.create(document=document, anchor="a", creator=author)
        Comment.objects.create(thread=others_thread, author=author, body="Premier")
        others_comment = Comment.objects.create(thread=others_thread, author=author, body="Réponse")
        owner_of_own = actor or author
        own_thread = CommentThread.objects.create(document=document, anchor="b", creator=owner_of_own)
        own_comment = Comment.objects.create(thread=own_thread, author=owner_of_own, body="Le mien")
        Comment.objects.create(thread=own_thread, author=author, body="Réponse au mien")
        resolved_thread = CommentThread.objects.create(
            document=document, anchor="c", creator=author, resolved_at=timezone.now(), resolved_by=author
        )
        Comment.objects.create(thread=resolved_thread, author=author, body="Réglé")
        if actor is not None:
            Reaction.objects.create(comment=others_comment, user=actor, emoji="👍")
        return World(
            document=document,
            actor=actor,
            client=api(actor) if actor is not None else Anonymous(client),
            author=author,
            others_thread=others_thread,
            others_comment=others_comment,
            own_thread=own_thread,
            own_comment=own_comment,
            resolved_thread=resolved_thread,
        )

    return build


# --- actions: each returns the response and checks its effect on success ---------------------


def list_threads(w):
    response = w.client.get(f"/api/v1/documents/{w.document.pk}/threads/")
    if response.status_code == 200:
        assert response.json()["count"] == 3
    return response


def get_thread(w):
    response = w.client.get(w.url(w.others_thread))
    if response.status_code == 200:
        assert [c["body"] for c in response.json()["comments"]] == ["Premier", "Réponse"]
    return response


def create_thread(w):
    response = w.client.post(f"/api/v1/documents/{w.document.pk}/threads/", json={"anchor": "z", "body": "Nouveau"})
    if response.status_code == 201:
        assert CommentThread.objects.filter(document=w.document, creator=w.actor, anchor="z").exists()
    return response


def reply(w):
    response = w.client.post(w.url(w.others_thread, "/comments/"), json={"body": "Réponse"})
    if response.status_code == 201:
        assert w.others_thread.comments.filter(author=w.actor).exists()
    return response


def edit_own_comment(w):
    response = w.client.patch(w.url(w.own_thread, f"/comments/{w.own_comment.pk}"), json={"body": "Modifié"})
    if response.status_code == 200:
        assert Comment.objects.get(pk=w.own_comment.pk).body == "Modifié"
    return response


def edit_others_comment(w):
    return w.client.patch(w.url(w.others_thread, f"/comments/{w.others_comment.pk}"), json={"body": "Pirate"})


def delete_own_comment(w):
    response = w.client.delete(w.url(w.own_thread, f"/comments/{w.own_comment.pk}"))
    if response.status_code == 204:
        assert not Comment.objects.filter(pk=w.own_comment.pk).exists()
    return response


def delete_others_comment(w):
    response = w.client.delete(w.url(w.others_thread, f"/comments/{w.others_comment.pk}"))
    if response.status_code == 204:
        assert not Comment.objects.filter(pk=w.others_comment.pk).exists()
    return response


def resolve(w):
    response = w.client.post(w.url(w.others_thread, "/resolve"))
    if response.status_code == 200:
        assert CommentThread.objects.get(pk=w.others_thread.pk).resolved_by == w.actor
    return response


def reopen(w):
    response = w.client.post(w.url(w.resolved_thread, "/reopen"))
    if response.status_code == 200:
        assert CommentThread.objects.get(pk=w.resolved_thread.pk).resolved_at is None
    return response


def delete_own_thread(w):
    response = w.client.delete(w.url(w.own_thread))
    if response.status_code == 204:
        assert not CommentThread.objects.filter(pk=w.own_thread.pk).exists()
    return response


def delete_others_thread(w):
    response = w.client.delete(w.url(w.others_thread))
    if response.status_code == 204:
        assert not CommentThread.objects.filter(pk=w.others_thread.pk).exists()
    return response


def react(w):
    response = w.client.put(w.url(w.others_thread, f"/comments/{w.others_comment.pk}/reactions/{quote('🎉')}"))
    if response.status_code == 200:
        assert Reaction.objects.filter(comment=w.others_comment, user=w.actor, emoji="🎉").exists()
    return response


def unreact(w):
    response = w.client.delete(w.url(w.others_thread, f"/comments/{w.others_comment.pk}/reactions/{quote('👍')}"))
    if response.status_code == 204:
        assert not Reaction.objects.filter(comment=w.others_comment, user=w.actor).exists()
    return response


ACTIONS = {
    "list_threads": (list_threads, 200),
    "get_thread": (get_thread, 200),
    "create_thread": (create_thread, 201),
    "reply": (reply, 201),
    "edit_own_comment": (edit_own_comment, 200),
    "edit_others_comment": (edit_others_comment, 200),
    "delete_own_comment": (delete_own_comment, 204),
    "delete_others_comment": (delete_others_comment, 204),
    "resolve": (resolve, 200),
    "reopen": (reopen, 200),
    "delete_own_thread": (delete_own_thread, 204),
    "delete_others_thread": (delete_others_thread, 204),
    "react": (react, 200),
    "unreact": (unreact, 204),
}
READS = {"list_threads", "get_thread"}
WRITES = set(ACTIONS) - READS
MODERATION = {"delete_others_comment", "delete_others_thread"}

OK = "ok"
FORBIDDEN = (403, "permission_denied")
MISSING = (404, "not_found")
UNAUTHENTICATED = (401, "not_authenticated")


def expectations(*, read: bool, write: bool, moderate: bool, anonymous: bool) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for action in ACTIONS:
        if action in READS:
            table[action] = OK if read else MISSING
        elif anonymous:
            table[action] = UNAUTHENTICATED  # comments need an author: never anonymous
        elif not read:
            table[action] = MISSING
        elif not write:
            table[action] = FORBIDDEN
        elif action == "edit_others_comment":
            table[action] = FORBIDDEN  # nobody edits another's words
        elif action in MODERATION:
            table[action] = OK if moderate else FORBIDDEN
        else:
            table[action] = OK
    return table


COMMENTER = {"read": True, "write": True, "moderate": False, "anonymous": False}
PRINCIPALS = {
    "reader": expectations(read=True, write=False, moderate=False, anonymous=False),
    "commenter": expectations(**COMMENTER),
    "editor": expectations(**COMMENTER),
    "administrator": expectations(read=True, write=True, moderate=True, anonymous=False),
    "owner": expectations(read=True, write=True, moderate=True, anonymous=False),
    "team_member": expectations(**COMMENTER),
    "authenticated_link_commenter": expectations(**COMMENTER),
    "stranger": expectations(read=False, write=False, moderate=False, anonymous=False),
    "anonymous_public_reader": expectations(read=True, write=False, moderate=False, anonymous=True),
    "anonymous_public_commenter": expectations(read=True, write=False, moderate=False, anonymous=True),
    "anonymous_public_editor": expectations(read=True, write=False, moderate=False, anonymous=True),
    "anonymous_authenticated": expectations(read=False, write=False, moderate=False, anonymous=True),
    "anonymous_restricted": expectations(read=False, write=False, moderate=False, anonymous=True),
}
CASES = [(p, a) for p in PRINCIPALS for a in ACTIONS]


@pytest.mark.parametrize(("principal", "action"), CASES, ids=[f"{p}-{a}" for p, a in CASES])
def test_role_action_table(world_for, principal, action):
    world = world_for(principal)
    run, success_status = ACTIONS[action]
    expected = PRINCIPALS[principal][action]
    before = snapshot()
    response = run(world)
    if expected == OK:
        assert response.status_code == success_status, response.content
    else:
        assert_error(response, *expected)
        assert snapshot() == before


THREADS = "/{document_id}/threads/"
THREAD = THREADS + "{thread_id}"
COMMENT = THREAD + "/comments/{comment_id}"
ENDPOINTS = {
    "list_threads": ("GET", THREADS),
    "get_thread": ("GET", THREAD),
    "create_thread": ("POST", THREADS),
    "reply": ("POST", THREAD + "/comments/"),
    "edit_own_comment": ("PATCH", COMMENT),
    "edit_others_comment": ("PATCH", COMMENT),
    "delete_own_comment": ("DELETE", COMMENT),
    "delete_others_comment": ("DELETE", COMMENT),
    "resolve": ("POST", THREAD + "/resolve"),
    "reopen": ("POST", THREAD + "/reopen"),
    "delete_own_thread": ("DELETE", THREAD),
    "delete_others_thread": ("DELETE", THREAD),
    "react": ("PUT", COMMENT + "/reactions/{emoji}"),
    "unreact": ("DELETE", COMMENT + "/reactions/{emoji}"),
}


def test_table_covers_every_comments_endpoint():
    """A new endpoint without a row in the table fails here."""
    from docs_app.api.comments import router

    operations = {
        (method, path)
        for path, view in router.path_operations.items()
        for operation in view.operations
        for method in operation.methods
    }
    assert set(ENDPOINTS) == set(ACTIONS)
    assert set(ENDPOINTS.values()) == operations
