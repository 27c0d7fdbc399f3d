"""``/api/v1/documents/<id>/access-requests/``: asking for access, and deciding."""

from __future__ import annotations

import pytest

from docs_app.models import AccessRequest, AccessRequestStatus, DocumentAccess
from suite.access.roles import Role
from suite.events import subscribe, unsubscribe
from tests.conftest import assert_error
from tests.docs_app.factories_sharing import (
    API,
    MANAGERS,
    NON_MANAGERS,
    assert_hidden_from_stranger_and_anonymous,
    assert_list_query_count_is_constant,
    grant,
    make_cast,
    make_document,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

@pytest.fixture
def events():
    received = []
    names = ("docs.access_requested", "docs.access_request_decided")
    for name in names:
        subscribe(name, received.append)
    yield received
    for name in names:
        unsubscribe(name, received.append)


def url(cast, suffix=""):
    return f"{API}/{cast.document.pk}/access-requests/{suffix}"


def pending(cast, user=None, role=Role.READER):
    return AccessRequest.objects.create(
        document=cast.document, user=user or UserFactory(), role=role, message="please"
    )


# --- create -----------------------------------------------------------------------------


def test_create_by_stranger_reveals_nothing_and_notifies_managers(
    api, cast, mailoutbox, events, django_capture_on_commit_callbacks
):
    stranger = cast["stranger"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api(stranger).post(url(cast), json={"role": "editor", "message": "For the audit"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "status"} and body["status"] == "pending"
    access_request = AccessRequest.objects.get(pk=body["id"])
    assert (access_request.user, access_request.role) == (stranger, Role.EDITOR)
    # Owners and administrators, direct or through a team, are told.
    managers = {cast[name].email for name in MANAGERS}
    assert {m.to[0] for m in mailoutbox} == managers
    assert all(stranger.email in m.body and "For the audit" in m.body for m in mailoutbox)
    assert [(e.name, e.access_request_id, e.role) for e in events] == [
        ("docs.access_requested", access_request.pk, "editor")
    ]


def test_create_by_reader_for_a_higher_role(api, cast):
    response = api(cast["reader"]).post(url(cast), json={"role": "editor"})
    assert response.status_code == 201


@pytest.mark.parametrize("name", ["editor", "administrator", "owner", "team_administrator"])
def test_create_when_already_holding_the_role_is_conflict(api, cast, name):
    assert_error(api(cast[name]).post(url(cast), json={"role": "editor"}), 409, "role_already_held")
    assert not AccessRequest.objects.exists()


def test_create_duplicate_pending_is_conflict(api, cast):
    client = api(cast["stranger"])
    assert client.post(url(cast), json={}).status_code == 201
    assert_error(client.post(url(cast), json={"role": "editor"}), 409, "access_request_exists")
    assert AccessRequest.objects.count() == 1


def test_create_by_anonymous_is_unauthenticated(client, cast):
    assert_error(client.post(url(cast), {}, content_type="application/json"), 401,
                 "not_authenticated")


@pytest.mark.parametrize(
    "document_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"]
)
def test_create_for_unknown_document_is_not_found(api, user, document_id):
    assert_error(api(user).post(f"{API}/{document_id}/access-requests/", json={}), 404,
                 "not_found")


@pytest.mark.parametrize(
    "payload",
    [{"role": "administrator"}, {"role": "owner"}, {"role": "boss"}, {"message": "x" * 501}],
)
def test_create_bad_input(api, cast, payload):
    assert_error(api(cast["stranger"]).post(url(cast), json=payload), 422, "validation_error")
    assert not AccessRequest.objects.exists()


# --- list -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MANAGERS)
def test_list_allowed_for_managers(api, cast, name):
    access_request = pending(cast)
    AccessRequest.objects.create(
        document=cast.document, user=UserFactory(), status=AccessRequestStatus.REFUSED
    )
    response = api(cast[name]).get(url(cast))
    assert response.status_code == 200
    assert response.json()["count"] == 1
    item = response.json()["items"][0]
    assert item["id"] == str(access_request.pk)
    assert item["user"]["email"] == access_request.user.email
    assert item["role"] == "reader" and item["status"] == "pending" and item["message"] == "please"
    assert api(cast[name]).get(url(cast) + "?status=all").json()["count"] == 2


@pytest.mark.parametrize("name", NON_MANAGERS)
def test_list_denied_for_non_managers(api, cast, name):
    assert_error(api(cast[name]).get(url(cast)), 403, "permission_denied")


def test_list_denied_to_stranger_and_anonymous(api, client, cast):
    pending(cast, user=cast["stranger"])
    assert_hidden_from_stranger_and_anonymous(api, client, cast, url(cast))


def test_list_bad_status_filter(api, cast):
    assert_error(api(cast["owner"]).get(url(cast) + "?status=maybe"), 422, "validation_error")


def test_list_query_count_is_constant(api, cast):
    assert_list_query_count_is_constant(
        api(cast["owner"]), url(cast),
        add_first=lambda: pending(cast), add_other=lambda _: pending(cast), others=10,
    )


# --- accept and refuse ------------------------------------------------------------------


@pytest.mark.parametrize("name", MANAGERS)
def test_accept_grants_the_chosen_role(
    api, cast, name, mailoutbox, events, django_capture_on_commit_callbacks
):
    access_request = pending(cast, role=Role.EDITOR)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(cast[name]).post(url(cast, f"{access_request.pk}/accept"),
                                        json={"role": "commenter"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "accepted" and body["role"] == "commenter"
    assert body["decided_by"] == str(cast[name].pk)
    access = DocumentAccess.objects.get(resource=cast.document, user=access_request.user)
    assert access.role == Role.COMMENTER
    (message,) = mailoutbox
    assert message.to == [access_request.user.email]
    assert message.subject == "Your access request was accepted"
    assert "Shared plan" in message.body
    assert [(e.name, e.status, e.role) for e in events] == [
        ("docs.access_request_decided", "accepted", "commenter")
    ]


def test_accept_defaults_to_the_requested_role(api, cast):
    access_request = pending(cast, role=Role.EDITOR)
    response = api(cast["owner"]).post(url(cast, f"{access_request.pk}/accept"), json={})
    assert response.status_code == 200
    assert DocumentAccess.objects.get(user=access_request.user).role == Role.EDITOR


def test_accept_raises_an_existing_lower_access(api, cast):
    access_request = pending(cast, user=cast["reader"], role=Role.EDITOR)
    response = api(cast["owner"]).post(url(cast, f"{access_request.pk}/accept"), json={})
    assert response.status_code == 200
    assert DocumentAccess.objects.get(pk=cast.accesses["reader"].pk).role == Role.EDITOR


def test_accept_on_a_child_where_the_user_already_has_an_access(api, cast):
    child = make_document(parent=cast.document)
    guest = UserFactory()
    grant(child, Role.READER, user=guest)
    access_request = AccessRequest.objects.create(document=child, user=guest, role=Role.EDITOR)
    response = api(cast["administrator"]).post(
        f"{API}/{child.pk}/access-requests/{access_request.pk}/accept", json={}
    )
    assert response.status_code == 200, response.content
    assert DocumentAccess.objects.get(resource=child, user=guest).role == Role.EDITOR


def test_accept_above_own_role_is_denied(api, cast):
    access_request = pending(cast)
    response = api(cast["administrator"]).post(url(cast, f"{access_request.pk}/accept"),
                                               json={"role": "owner"})
    assert_error(response, 403, "permission_denied")
    access_request.refresh_from_db()
    assert access_request.status == AccessRequestStatus.PENDING
    assert not DocumentAccess.objects.filter(user=access_request.user).exists()


@pytest.mark.parametrize("name", NON_MANAGERS)
def test_accept_and_refuse_denied_for_non_managers(api, cast, name):
    access_request = pending(cast)
    for action in ("accept", "refuse"):
        assert_error(api(cast[name]).post(url(cast, f"{access_request.pk}/{action}"), json={}),
                     403, "permission_denied")
    access_request.refresh_from_db()
    assert access_request.status == AccessRequestStatus.PENDING


def test_accept_and_refuse_denied_to_requester_stranger_and_anonymous(api, client, cast):
    access_request = pending(cast, user=cast["stranger"])
    for action in ("accept", "refuse"):
        path = url(cast, f"{access_request.pk}/{action}")
        assert_error(api(cast["stranger"]).post(path, json={}), 404, "not_found")
        assert_error(client.post(path, {}, content_type="application/json"), 401,
                     "not_authenticated")
    access_request.refresh_from_db()
    assert access_request.status == AccessRequestStatus.PENDING


@pytest.mark.parametrize(
    ("target", "payload", "status", "code"),
    [
        ("OK", {"role": "wizard"}, 422, "validation_error"),
        ("nope", {}, 404, "not_found"),
        ("00000000-0000-0000-0000-000000000000", {}, 404, "not_found"),
    ],
)
def test_accept_bad_input(api, cast, target, payload, status, code):
    access_request = pending(cast)
    request_id = access_request.pk if target == "OK" else target
    assert_error(api(cast["owner"]).post(url(cast, f"{request_id}/accept"), json=payload),
                 status, code)
    access_request.refresh_from_db()
    assert access_request.status == AccessRequestStatus.PENDING


@pytest.mark.parametrize("name", MANAGERS)
def test_refuse(api, cast, name, mailoutbox, events, django_capture_on_commit_callbacks):
    access_request = pending(cast)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(cast[name]).post(url(cast, f"{access_request.pk}/refuse"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "refused"
    assert not DocumentAccess.objects.filter(user=access_request.user).exists()
    (message,) = mailoutbox
    assert message.subject == "Your access request was refused"
    # A refused requester still learns nothing about the document.
    assert "Shared plan" not in message.body
    assert [(e.name, e.status, e.role) for e in events] == [
        ("docs.access_request_decided", "refused", None)
    ]


def test_deciding_twice_is_conflict(api, cast):
    access_request = pending(cast)
    client = api(cast["owner"])
    assert client.post(url(cast, f"{access_request.pk}/refuse")).status_code == 200
    assert_error(client.post(url(cast, f"{access_request.pk}/accept"), json={}), 409,
                 "access_request_decided")
    assert not DocumentAccess.objects.filter(user=access_request.user).exists()
    # A new request is possible once the previous one is decided.
    assert api(access_request.user).post(url(cast), json={}).status_code == 201


def test_request_of_another_document_is_not_found(api, cast):
    other = make_cast()
    foreign = pending(other)
    assert_error(api(cast["owner"]).post(url(cast, f"{foreign.pk}/refuse")), 404, "not_found")
