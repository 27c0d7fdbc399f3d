"""Every comment change publishes its platform event after commit; refused or idle
requests publish nothing."""

from __future__ import annotations

import uuid

import pytest

from docs_app.models import Comment
from suite.events import subscribe, unsubscribe
from tests.docs_app.factories_comments import open_thread, reaction_url, threads_url

EVENT_NAMES = [
    "docs.comment_created", "docs.comment_updated", "docs.comment_deleted",
    "docs.thread_resolved", "docs.thread_reopened", "docs.reaction_added", "docs.reaction_removed",
]

pytestmark = pytest.mark.django_db


@pytest.fixture
def events():
    """Every comment event delivered during the test, in order."""
    received = []
    for name in EVENT_NAMES:
        subscribe(name, received.append)
    yield received
    for name in EVENT_NAMES:
        unsubscribe(name, received.append)



def test_each_change_publishes_its_event_after_commit(
    api, user, commenter, document, events, django_capture_on_commit_callbacks
):
    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            response = call()
        assert response.status_code < 300, response.content
        return response

    thread = run(lambda: api(commenter).post(threads_url(document), json={"anchor": "a", "body": "Un"})).json()
    url = f"{threads_url(document)}{thread['id']}"
    first = thread["comments"][0]["id"]
    reply = run(lambda: api(user).post(url + "/comments/", json={"body": "Deux"})).json()
    run(lambda: api(user).patch(f"{url}/comments/{reply['id']}", json={"body": "Deux bis"}))
    run(lambda: api(user).put(reaction_url(document, thread, first, "👍")))
    run(lambda: api(user).delete(reaction_url(document, thread, first, "👍")))
    run(lambda: api(commenter).post(url + "/resolve"))
    run(lambda: api(commenter).post(url + "/reopen"))
    run(lambda: api(user).delete(f"{url}/comments/{reply['id']}"))

    common = {"document_id": document.pk, "thread_id": uuid.UUID(thread["id"])}
    expected = [
        ("docs.comment_created", commenter, {"comment_id": uuid.UUID(first)}),
        ("docs.comment_created", user, {"comment_id": uuid.UUID(reply["id"])}),
        ("docs.comment_updated", user, {"comment_id": uuid.UUID(reply["id"])}),
        ("docs.reaction_added", user, {"comment_id": uuid.UUID(first), "emoji": "👍"}),
        ("docs.reaction_removed", user, {"comment_id": uuid.UUID(first), "emoji": "👍"}),
        ("docs.thread_resolved", commenter, {}),
        ("docs.thread_reopened", commenter, {}),
        ("docs.comment_deleted", user, {"comment_id": uuid.UUID(reply["id"])}),
    ]
    assert [event.name for event in events] == [name for name, _, _ in expected]
    for event, (_, actor, fields) in zip(events, expected, strict=True):
        assert event.actor_id == actor.pk
        for key, value in {**common, **fields}.items():
            assert getattr(event, key) == value, (event.name, key)
    assert events[0].envelope()["data"]["comment_id"] == first


def test_deleting_a_thread_publishes_one_event_per_comment(
    api, user, commenter, document, events, django_capture_on_commit_callbacks
):
    thread = open_thread(api, commenter, document)
    api(user).post(f"{threads_url(document)}{thread['id']}/comments/", json={"body": "Réponse"})
    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert api(user).delete(f"{threads_url(document)}{thread['id']}").status_code == 204
    assert [e.name for e in events] == ["docs.comment_deleted"] * 2
    assert {e.thread_id for e in events} == {uuid.UUID(thread["id"])}
    assert all(e.actor_id == user.pk for e in events)


def test_no_event_for_refused_or_idle_changes(
    api, user, commenter, document, events, django_capture_on_commit_callbacks
):
    thread = open_thread(api, user, document)
    url = f"{threads_url(document)}{thread['id']}"
    first = thread["comments"][0]["id"]
    events.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        api(commenter).patch(f"{url}/comments/{first}", json={"body": "pirate"})  # 403
        api(commenter).post(url + "/comments/", json={"body": ""})  # 422
        api(commenter).post(url + "/reopen")  # already open
        api(commenter).delete(reaction_url(document, thread, first, "👍"))  # nothing to remove
        api(user).patch(f"{url}/comments/{first}", json={"body": "Premier commentaire"})  # unchanged
    assert events == [] and callbacks == []
    assert Comment.objects.get(pk=first).edited_at is None
