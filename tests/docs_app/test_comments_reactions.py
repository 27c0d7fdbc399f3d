"""Comment reactions: toggling, aggregation per emoji, and what counts as an emoji."""

from __future__ import annotations

import pytest

from docs_app.models import DocumentAccess, Reaction
from suite.access.roles import Role
from tests.conftest import assert_error
from tests.docs_app.factories_comments import open_thread, reaction_url, threads_url
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_reactions_toggle_and_aggregate(api, user, commenter, document):
    thread = open_thread(api, user, document)
    comment_id = thread["comments"][0]["id"]
    other = UserFactory()
    DocumentAccess.objects.create(resource=document, user=other, role=Role.EDITOR)

    assert api(commenter).put(reaction_url(document, thread, comment_id, "👍")).status_code == 200
    assert api(other).put(reaction_url(document, thread, comment_id, "👍")).status_code == 200
    assert api(other).put(reaction_url(document, thread, comment_id, ":tada:")).status_code == 200
    response = api(commenter).put(reaction_url(document, thread, comment_id, "👍"))  # idempotent
    assert response.status_code == 200
    assert response.json()["reactions"] == [
        {"emoji": "👍", "count": 2, "reacted": True},
        {"emoji": ":tada:", "count": 1, "reacted": False},
    ]
    assert Reaction.objects.filter(comment_id=comment_id).count() == 3

    assert api(commenter).delete(reaction_url(document, thread, comment_id, "👍")).status_code == 204
    assert api(commenter).delete(reaction_url(document, thread, comment_id, "👍")).status_code == 204
    listed = api(user).get(threads_url(document)).json()["items"][0]["comments"][0]["reactions"]
    assert listed == [
        {"emoji": "👍", "count": 1, "reacted": False},
        {"emoji": ":tada:", "count": 1, "reacted": False},
    ]


@pytest.mark.parametrize(
    "emoji", ["👍", "❤️", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣", "#⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "©️", ":thumbsup:", ":+1:", ":Party-Parrot:"]
)
def test_reaction_accepts_emoji_and_short_codes(api, commenter, document, emoji):
    thread = open_thread(api, commenter, document)
    response = api(commenter).put(reaction_url(document, thread, thread["comments"][0]["id"], emoji))
    assert response.status_code == 200, response.content
    assert Reaction.objects.get().emoji == response.json()["reactions"][0]["emoji"]


@pytest.mark.parametrize(
    "emoji",
    ["a", "abc", "hello world", "👍a", "a👍", "👍 ", "🏽", "\u200d👍", "👍\u200d", "::", ":a b:",
     ":" + "x" * 31 + ":", "👍" * 33, "👍👍", "🇫", "🇫🇷🇫🇷", "👍⃣", "<b>", "\u0301", "1", "12⃣", "👍\x01", "\x7f", "é"],
)
def test_reaction_refuses_anything_but_an_emoji(api, commenter, document, emoji):
    thread = open_thread(api, commenter, document)
    response = api(commenter).put(reaction_url(document, thread, thread["comments"][0]["id"], emoji))
    assert_error(response, 422, "validation_error")
    response = api(commenter).delete(reaction_url(document, thread, thread["comments"][0]["id"], emoji))
    assert_error(response, 422, "validation_error")
    assert not Reaction.objects.exists()
