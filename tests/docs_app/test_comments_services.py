"""The input rules of comments, called directly (the API tests go through them too), and a
race the API cannot show: the same reaction added twice at once."""

from __future__ import annotations

import pytest

from docs_app.models import Comment, CommentThread, DocumentAccess, Reaction
from docs_app.services.comments import (
    clean_anchor,
    clean_body,
    clean_emoji,
    reaction_add,
    thread_create,
)
from suite.access.roles import Role
from suite.errors import NotAuthenticated, ValidationFailed
from tests.docs_app.factories_comments import make_document


def test_clean_body_normalizes_line_breaks_and_strips():
    assert clean_body("  ligne 1\r\nligne 2\rligne 3\t fin \n") == "ligne 1\nligne 2\nligne 3\t fin"


@pytest.mark.parametrize("body", ["", " \n", "x" * 10_001, "a\x00", "a\x1f", "a\x85", "a\ud83d"])
def test_clean_body_refuses(body):
    with pytest.raises(ValidationFailed) as raised:
        clean_body(body)
    assert raised.value.status == 422 and raised.value.details["field"] == "body"


def test_clean_anchor_keeps_the_anchor_exactly():
    anchor = ' {"type":{"client":1,"clock":4},"assoc":0}\n'
    assert clean_anchor(anchor) == anchor and clean_anchor("") == ""


def test_clean_emoji_lowercases_short_codes_and_keeps_emoji():
    assert clean_emoji(":ThumbsUp:") == ":thumbsup:"
    assert clean_emoji("❤️") == "❤️"


def test_clean_emoji_refuses_text():
    with pytest.raises(ValidationFailed) as raised:
        clean_emoji("lol")
    assert raised.value.details == {"field": "emoji", "reason": "not_an_emoji"}


@pytest.mark.django_db
def test_anonymous_actor_cannot_write_even_through_a_public_commenter_link():
    from django.contrib.auth.models import AnonymousUser

    document = make_document(link_reach="public", link_role=Role.COMMENTER)
    with pytest.raises(NotAuthenticated):
        thread_create(actor=AnonymousUser(), document_id=document.pk, anchor="", body="Bonjour")
    assert not CommentThread.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_same_reaction_added_concurrently_counts_once(user):
    import threading

    from django.db import connection

    document = make_document()
    DocumentAccess.objects.create(resource=document, user=user, role=Role.COMMENTER)
    _, thread = thread_create(actor=user, document_id=document.pk, anchor="", body="Bonjour")
    comment = Comment.objects.get(thread=thread)
    barrier = threading.Barrier(4)
    errors = []

    def react():
        try:
            barrier.wait()
            reaction_add(actor=user, document_id=document.pk, thread_id=thread.pk, comment_id=comment.pk, emoji="👍")
        except Exception as error:  # noqa: BLE001 -- reported below
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=react) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert Reaction.objects.filter(comment=comment).count() == 1
