"""``/api/v1/documents/<id>/invitations/``: inviting email addresses (with an account or not)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from docs_app.models import Invitation
from suite.access.roles import Role
from suite.identity.models import User
from tests.conftest import assert_error
from tests.docs_app.factories_sharing import (
    API,
    MANAGERS,
    NON_MANAGERS,
    assert_hidden_from_stranger_and_anonymous,
    assert_list_query_count_is_constant,
    make_cast,
)
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

def url(cast, suffix=""):
    return f"{API}/{cast.document.pk}/invitations/{suffix}"


def invite(cast, email="new.person@example.org", role=Role.EDITOR, issuer=None, **fields):
    now = timezone.now()
    return Invitation.objects.create(
        document=cast.document, email=email, role=role, issuer=issuer or cast["owner"],
        expires_at=fields.pop("expires_at", now + dt.timedelta(days=7)), **fields,
    )


# --- create -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MANAGERS)
def test_create_allowed_for_managers_and_emailed(
    api, cast, name, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.DOCS_INVITATION_DAYS = 3
    with django_capture_on_commit_callbacks(execute=True):
        response = api(cast[name]).post(
            url(cast), json={"email": " Camille.Martin@Example.org ", "role": "editor"}
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "Camille.Martin@Example.org"
    assert body["role"] == "editor"
    assert body["issuer"]["id"] == str(cast[name].pk)
    assert body["is_expired"] is False
    invitation = Invitation.objects.get(pk=body["id"])
    expected_expiry = timezone.now() + dt.timedelta(days=3)
    assert abs(invitation.expires_at - expected_expiry) < dt.timedelta(minutes=1)

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["Camille.Martin@Example.org"]
    assert message.subject == "You are invited to a document"
    link = f"{settings.SUITE_PUBLIC_URL}/docs/{cast.document.pk}"
    assert link in message.body
    assert "Shared plan" in message.body and "Editor" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and link in html and 'lang="en"' in html


def test_create_email_in_inviter_chosen_language(
    api, cast, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(cast["owner"]).post(
            url(cast), json={"email": "claire@example.fr", "role": "editor", "language": "fr"}
        )
    assert response.status_code == 201, response.content
    (message,) = mailoutbox
    # The role name comes from the platform's French catalogue.
    assert "Éditeur" in message.body and "Editor" not in message.body
    assert 'lang="fr"' in message.alternatives[0][0]


@pytest.mark.parametrize("name", NON_MANAGERS)
def test_create_denied_for_non_managers(api, cast, name, mailoutbox):
    response = api(cast[name]).post(url(cast), json={"email": "x@example.org", "role": "reader"})
    assert_error(response, 403, "permission_denied")
    assert not Invitation.objects.exists() and not mailoutbox


def test_create_denied_to_stranger_and_anonymous(api, client, cast):
    payload = {"email": "x@example.org", "role": "reader"}
    assert_error(api(cast["stranger"]).post(url(cast), json=payload), 404, "not_found")
    assert_error(client.post(url(cast), payload, content_type="application/json"), 401,
                 "not_authenticated")
    assert not Invitation.objects.exists()


def test_create_above_own_role_is_denied(api, cast):
    response = api(cast["administrator"]).post(
        url(cast), json={"email": "x@example.org", "role": "owner"}
    )
    assert_error(response, 403, "permission_denied")
    assert not Invitation.objects.exists()


def test_create_for_an_account_the_inviter_can_find_is_conflict_with_user_id(api, cast):
    organization = OrganizationFactory()
    User.objects.filter(pk=cast["owner"].pk).update(organization=organization)
    colleague = UserFactory(email="known.person@example.org", organization=organization)
    error = assert_error(
        api(cast["owner"]).post(url(cast), json={"email": "KNOWN.person@example.org",
                                                 "role": "reader"}),
        409,
        "user_exists",
    )
    assert error["details"]["user"] == str(colleague.pk)
    assert not Invitation.objects.exists()


def _answer_without_ids(response):
    body = response.json()
    return response.status_code, sorted(body), body["role"], body["issuer"], body["is_expired"]


@pytest.mark.parametrize("where", ["other_organization", "no_organization"])
def test_create_for_an_account_outside_search_scope_looks_like_a_new_address(
    api, cast, where, mailoutbox, django_capture_on_commit_callbacks
):
    """User search would not find them (``USER_SEARCH_SCOPE=organization``): the invitation
    must not tell either, so it answers exactly as for an address without an account."""
    User.objects.filter(pk=cast["owner"].pk).update(organization=OrganizationFactory())
    outsider = UserFactory(
        email="outsider@example.org",
        organization=OrganizationFactory() if where == "other_organization" else None,
    )
    owner = api(cast["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        known = owner.post(url(cast), json={"email": "Outsider@example.org", "role": "reader"})
        unknown = owner.post(url(cast), json={"email": "nobody@example.org", "role": "reader"})

    assert known.status_code == 201, known.content
    assert _answer_without_ids(known) == _answer_without_ids(unknown)
    assert str(outsider.pk) not in known.content.decode()
    assert sorted(m.to[0] for m in mailoutbox) == ["Outsider@example.org", "nobody@example.org"]
    assert mailoutbox[0].body.replace("Outsider@example.org", "X") == mailoutbox[1].body.replace(
        "nobody@example.org", "X"
    )
    listed = {item["email"]: item for item in owner.get(url(cast)).json()["items"]}
    assert set(listed) == {"Outsider@example.org", "nobody@example.org"}


def test_create_for_anyone_with_an_account_is_conflict_when_search_finds_everyone(
    api, cast, settings
):
    settings.USER_SEARCH_SCOPE = "all"
    User.objects.filter(pk=cast["owner"].pk).update(organization=OrganizationFactory())
    outsider = UserFactory(email="outsider@example.org", organization=OrganizationFactory())
    error = assert_error(
        api(cast["owner"]).post(url(cast), json={"email": "outsider@example.org", "role": "reader"}),
        409, "user_exists",
    )
    assert error["details"]["user"] == str(outsider.pk)


def test_create_is_rate_limited_per_inviter(api, cast, settings, mailoutbox,
                                            django_capture_on_commit_callbacks):
    settings.DOCS_INVITATION_RATE = "3/m"
    organization = OrganizationFactory()
    User.objects.filter(pk=cast["owner"].pk).update(organization=organization)
    colleague = UserFactory(organization=organization)
    owner = api(cast["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(2):
            assert owner.post(url(cast), json={"email": f"p{n}@example.org", "role": "reader"}).status_code == 201
        # An answer about an existing account counts as much as an invitation sent.
        assert_error(owner.post(url(cast), json={"email": colleague.email, "role": "reader"}),
                     409, "user_exists")
        refused = owner.post(url(cast), json={"email": "p3@example.org", "role": "reader"})
        assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused["Retry-After"]) <= 60
        assert_error(owner.post(url(cast), json={"email": colleague.email, "role": "reader"}),
                     429, "rate_limited")
        # The limit is the inviter's, not the document's.
        other = api(cast["administrator"]).post(url(cast), json={"email": "p4@example.org", "role": "reader"})
        assert other.status_code == 201
    assert sorted(m.to[0] for m in mailoutbox) == ["p0@example.org", "p1@example.org", "p4@example.org"]
    assert Invitation.objects.count() == 3


def test_create_duplicate_is_conflict_case_insensitively(api, cast):
    invite(cast, email="dup@example.org")
    response = api(cast["owner"]).post(url(cast), json={"email": "DUP@example.org", "role": "reader"})
    assert_error(response, 409, "invitation_exists")
    assert Invitation.objects.count() == 1


def test_create_replaces_an_expired_invitation(api, cast):
    old = invite(cast, email="late@example.org", expires_at=timezone.now() - dt.timedelta(days=1))
    response = api(cast["owner"]).post(url(cast), json={"email": "late@example.org", "role": "reader"})
    assert response.status_code == 201
    assert not Invitation.objects.filter(pk=old.pk).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email", "role": "reader"},
        {"email": "a@b@c.org", "role": "reader"},
        {"email": "", "role": "reader"},
        {"email": "ok@example.org", "role": "boss"},
        {"email": "ok@example.org", "role": "reader", "language": "tlh"},
        {"role": "reader"},
        {"email": "x" * 250 + "@example.org", "role": "reader"},
    ],
)
def test_create_bad_input(api, cast, payload, mailoutbox):
    assert_error(api(cast["owner"]).post(url(cast), json=payload), 422, "validation_error")
    assert not Invitation.objects.exists() and not mailoutbox


# --- list -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MANAGERS)
def test_list_allowed_for_managers(api, cast, name):
    invitation = invite(cast)
    response = api(cast[name]).get(url(cast))
    assert response.status_code == 200
    assert response.json()["count"] == 1
    item = response.json()["items"][0]
    assert item["id"] == str(invitation.pk)
    assert item["role"] == "editor" and item["email"] == "new.person@example.org"
    assert item["issuer"]["email"] == cast["owner"].email


@pytest.mark.parametrize("name", NON_MANAGERS)
def test_list_denied_for_non_managers(api, cast, name):
    assert_error(api(cast[name]).get(url(cast)), 403, "permission_denied")


def test_list_denied_to_stranger_and_anonymous(api, client, cast):
    assert_hidden_from_stranger_and_anonymous(api, client, cast, url(cast))


def test_list_bad_pagination_is_rejected(api, cast):
    assert_error(api(cast["owner"]).get(url(cast) + "?limit=0"), 422, "validation_error")


def test_list_query_count_is_constant(api, cast):
    assert_list_query_count_is_constant(
        api(cast["owner"]), url(cast),
        add_first=lambda: invite(cast, email="first@example.org"),
        add_other=lambda n: invite(cast, email=f"p{n}@example.org", issuer=UserFactory()),
        others=12,
    )


# --- update and delete ------------------------------------------------------------------


@pytest.mark.parametrize("name", MANAGERS)
def test_update_allowed_for_managers(api, cast, name):
    invitation = invite(cast)
    response = api(cast[name]).patch(url(cast, invitation.pk), json={"role": "commenter"})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "commenter"
    invitation.refresh_from_db()
    assert invitation.role == Role.COMMENTER


@pytest.mark.parametrize("name", NON_MANAGERS)
def test_update_denied_for_non_managers(api, cast, name):
    invitation = invite(cast)
    assert_error(api(cast[name]).patch(url(cast, invitation.pk), json={"role": "reader"}), 403,
                 "permission_denied")
    invitation.refresh_from_db()
    assert invitation.role == Role.EDITOR


def test_update_denied_to_stranger_and_above_own_role(api, cast):
    invitation = invite(cast)
    assert_error(api(cast["stranger"]).patch(url(cast, invitation.pk), json={"role": "reader"}),
                 404, "not_found")
    assert_error(api(cast["administrator"]).patch(url(cast, invitation.pk), json={"role": "owner"}),
                 403, "permission_denied")
    invitation.refresh_from_db()
    assert invitation.role == Role.EDITOR


@pytest.mark.parametrize(
    ("target", "payload", "status", "code"),
    [
        ("OK", {"role": "king"}, 422, "validation_error"),
        ("OK", {}, 422, "validation_error"),
        ("nope", {"role": "reader"}, 404, "not_found"),
        ("00000000-0000-0000-0000-000000000000", {"role": "reader"}, 404, "not_found"),
    ],
)
def test_update_bad_input(api, cast, target, payload, status, code):
    invitation = invite(cast)
    path = url(cast, invitation.pk if target == "OK" else target)
    assert_error(api(cast["owner"]).patch(path, json=payload), status, code)
    invitation.refresh_from_db()
    assert invitation.role == Role.EDITOR


@pytest.mark.parametrize("name", MANAGERS)
def test_delete_allowed_for_managers(api, cast, name):
    invitation = invite(cast)
    assert api(cast[name]).delete(url(cast, invitation.pk)).status_code == 204
    assert not Invitation.objects.filter(pk=invitation.pk).exists()


@pytest.mark.parametrize("name", NON_MANAGERS)
def test_delete_denied_for_non_managers(api, cast, name):
    invitation = invite(cast)
    assert_error(api(cast[name]).delete(url(cast, invitation.pk)), 403, "permission_denied")
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_delete_denied_to_stranger_and_anonymous(api, client, cast):
    invitation = invite(cast)
    assert_error(api(cast["stranger"]).delete(url(cast, invitation.pk)), 404, "not_found")
    assert_error(client.delete(url(cast, invitation.pk)), 401, "not_authenticated")
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_delete_invitation_of_another_document_is_not_found(api, cast):
    other_cast = make_cast()
    foreign = invite(other_cast)
    assert_error(api(cast["owner"]).delete(url(cast, foreign.pk)), 404, "not_found")
    assert Invitation.objects.filter(pk=foreign.pk).exists()
