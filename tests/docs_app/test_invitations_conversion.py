"""Invitations turn into accesses when their email signs in; expired ones are dropped."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.contrib.auth.signals import user_logged_in
from django.utils import timezone

from docs_app.models import DocumentAccess, Invitation
from docs_app.services.invitations import invitations_convert, invitations_convert_waiting
from docs_app.tasks_invitations import purge_expired_invitations
from suite.access.roles import Role
from tests.docs_app.factories_sharing import API, grant, make_document
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def invite(document, email, role=Role.EDITOR, *, days=7):
    return Invitation.objects.create(
        document=document, email=email, role=role,
        expires_at=timezone.now() + dt.timedelta(days=days),
    )


@pytest.fixture
def documents():
    return make_document(title="A"), make_document(title="B"), make_document(title="C")


def test_password_login_converts_live_invitations(client, documents):
    live_a, live_b, expired_doc = documents
    invite(live_a, "camille@example.org", Role.EDITOR)
    invite(live_b, "Camille@Example.org", Role.READER)
    invite(expired_doc, "camille@example.org", Role.OWNER, days=-1)
    invite(live_a, "someone.else@example.org", Role.READER)
    user = UserFactory(email="camille@example.org")

    assert client.login(email="camille@example.org", password="password")

    roles = dict(DocumentAccess.objects.filter(user=user).values_list("resource_id", "role"))
    assert roles == {live_a.pk: Role.EDITOR, live_b.pk: Role.READER}
    # Every invitation for that email is gone, the expired one included; others stay.
    assert list(Invitation.objects.values_list("email", flat=True)) == ["someone.else@example.org"]


def test_login_endpoint_converts_and_the_document_is_then_visible(client, api, documents):
    document = documents[0]
    invite(document, "dominique@example.org", Role.COMMENTER)
    user = UserFactory(email="dominique@example.org")
    assert client.get(f"{API}/{document.pk}/accesses/").status_code == 401

    response = client.post(
        "/auth/login/", {"email": "dominique@example.org", "password": "password"},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert DocumentAccess.objects.get(user=user, resource=document).role == Role.COMMENTER
    assert api(user).get(f"{API}/{document.pk}/accesses/").status_code == 200


def test_signal_keeps_a_higher_existing_role(documents):
    document, other, _ = documents
    user = UserFactory(email="Eve@Example.org")
    grant(document, Role.ADMINISTRATOR, user=user)
    grant(other, Role.READER, user=user)
    invite(document, "eve@example.org", Role.READER)
    invite(other, "eve@example.org", Role.EDITOR)

    user_logged_in.send(sender=type(user), request=None, user=user)

    assert DocumentAccess.objects.get(user=user, resource=document).role == Role.ADMINISTRATOR
    assert DocumentAccess.objects.get(user=user, resource=other).role == Role.EDITOR
    assert not Invitation.objects.exists()


def test_conversion_is_idempotent(documents):
    document = documents[0]
    invite(document, "frank@example.org", Role.EDITOR)
    user = UserFactory(email="frank@example.org")

    assert invitations_convert(user=user) == 1
    assert invitations_convert(user=user) == 0
    user_logged_in.send(sender=type(user), request=None, user=user)

    assert DocumentAccess.objects.filter(user=user).count() == 1


def test_only_expired_invitations_grant_nothing(documents):
    invite(documents[0], "gina@example.org", Role.EDITOR, days=-2)
    user = UserFactory(email="gina@example.org")

    assert invitations_convert(user=user) == 0

    assert not DocumentAccess.objects.filter(user=user).exists()
    assert not Invitation.objects.exists()


def test_a_failing_conversion_does_not_fail_the_login(client, documents, caplog):
    invite(documents[0], "hugo@example.org", Role.EDITOR)
    invite(documents[1], "hugo@example.org", Role.EDITOR)
    user = UserFactory(email="hugo@example.org")
    # A role the application does not know (bad data written behind its back) makes the
    # conversion raise part-way.
    Invitation.objects.filter(document=documents[1]).update(role=99)

    with caplog.at_level(logging.ERROR, logger="docs_app.signals"):
        assert client.login(email="hugo@example.org", password="password")

    assert "could not convert invitations" in caplog.text
    # All or nothing: the conversion rolled back and the invitations wait for the next login.
    assert not DocumentAccess.objects.filter(user=user).exists()
    assert Invitation.objects.count() == 2


def test_purge_task_deletes_only_expired_invitations(documents):
    live = invite(documents[0], "ivy@example.org")
    invite(documents[1], "jo@example.org", days=-1)
    invite(documents[2], "kim@example.org", days=-30)

    assert purge_expired_invitations.delay().get() == 2

    assert list(Invitation.objects.values_list("pk", flat=True)) == [live.pk]


def test_an_invitee_already_signed_in_opens_the_document_at_once(api, documents):
    """Invited while holding a session or an API token (no new sign-in coming): the first
    request for what they cannot open yet converts their invitations."""
    document, _, _ = documents
    child = make_document(parent=document, title="Child")
    owner = UserFactory()
    grant(document, Role.OWNER, user=owner)
    invitee = UserFactory(email="lea@example.org")
    as_invitee = api(invitee)
    assert as_invitee.get(f"{API}/{document.pk}").status_code == 404  # nothing to convert yet

    assert api(owner).post(f"{API}/{document.pk}/invitations/",
                           json={"email": "Lea@Example.org", "role": "editor"}).status_code == 201
    response = as_invitee.get(f"{API}/{child.pk}")

    assert response.status_code == 200, response.content
    assert response.json()["role"] == "editor"  # inherited from the invitation's document
    assert DocumentAccess.objects.get(user=invitee, resource=document).role == Role.EDITOR
    assert not Invitation.objects.exists()


def test_only_the_invitee_converts_on_access(api, documents):
    document = documents[0]
    invite(document, "max@example.org", Role.EDITOR)
    assert api(UserFactory(email="not.max@example.org")).get(f"{API}/{document.pk}").status_code == 404
    assert Invitation.objects.count() == 1 and not DocumentAccess.objects.exists()


def test_a_failing_conversion_on_access_answers_the_refusal(api, documents, caplog):
    document = documents[0]
    invite(document, "nina@example.org", Role.EDITOR)
    Invitation.objects.update(role=99)  # bad data: the conversion raises part-way
    with caplog.at_level(logging.ERROR, logger="docs_app.permissions"):
        response = api(UserFactory(email="nina@example.org")).get(f"{API}/{document.pk}")
    assert response.status_code == 404
    assert "could not convert invitations" in caplog.text
    assert Invitation.objects.count() == 1


def test_a_refusal_without_invitations_costs_one_query(documents, django_assert_num_queries):
    user = UserFactory(email="olga@example.org")
    invite(documents[0], "someone@example.org")
    with django_assert_num_queries(1):
        assert invitations_convert_waiting(user=user) == 0
