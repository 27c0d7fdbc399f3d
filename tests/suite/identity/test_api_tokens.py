"""Personal and bot API tokens: hashed, prefix-indexed, expiring, revocable, scoped."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from suite.identity.models import ApiToken, AuditEvent
from suite.identity.tokens import authenticate_api_token, digest, token_create
from tests.conftest import assert_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


def test_token_is_stored_hashed_with_an_indexed_prefix(user):
    token, raw = token_create(actor=None, user=user, name="ci")
    assert raw.startswith(f"cmn_{token.prefix}_")
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.digest == digest(raw) and raw not in stored.digest
    assert ApiToken._meta.get_field("prefix").unique  # one index lookup


def test_valid_token_authenticates_in_one_lookup(client, user):
    _token, raw = token_create(actor=None, user=user, name="ci")
    response = client.get("/api/v1/users/me", headers=bearer(raw))
    assert response.status_code == 200
    assert response.json()["email"] == user.email
    with CaptureQueriesContext(connection) as queries:
        assert authenticate_api_token(raw) is not None
    assert len(queries) == 1  # last_used_at was just written: no second write


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"),  # wrong secret
        lambda raw: "cmn_deadbeef_" + raw.split("_", 2)[2],  # unknown prefix
        lambda raw: "cmn_short",
        lambda raw: "",
    ],
)
def test_wrong_tokens_are_refused(client, user, mangle):
    _token, raw = token_create(actor=None, user=user, name="ci")
    assert_error(client.get("/api/v1/users/me", headers=bearer(mangle(raw))), 401, "not_authenticated")


def test_expired_token_is_refused(client, user):
    token, raw = token_create(actor=None, user=user, name="ci", expires_in_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert_error(client.get("/api/v1/users/me", headers=bearer(raw)), 401, "not_authenticated")


def test_token_of_deactivated_user_is_refused(client, user):
    _token, raw = token_create(actor=None, user=user, name="ci")
    user.is_active = False
    user.save()
    assert_error(client.get("/api/v1/users/me", headers=bearer(raw)), 401, "not_authenticated")


def test_last_used_is_tracked(client, user):
    token, raw = token_create(actor=None, user=user, name="ci")
    assert token.last_used_at is None
    client.get("/api/v1/users/me", headers=bearer(raw), REMOTE_ADDR="10.1.2.3")
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_ip == "10.1.2.3"


def test_create_list_and_revoke_through_the_api(api, client, user):
    me = api(user)
    response = me.post("/api/v1/tokens/", json={"name": "bot", "scopes": ["docs:read"], "expires_in_days": 7})
    assert response.status_code == 201
    created = response.json()
    raw = created["token"]
    assert created["scopes"] == ["docs:read"] and raw.startswith("cmn_")
    assert (dt.datetime.fromisoformat(created["expires_at"]) - timezone.now()).days in (6, 7)
    listed = me.get("/api/v1/tokens/").json()
    assert created["id"] in {item["id"] for item in listed["items"]}
    assert all("token" not in item and "digest" not in item for item in listed["items"])
    assert me.delete(f"/api/v1/tokens/{created['id']}").status_code == 204
    assert_error(client.get("/api/v1/users/me", headers=bearer(raw)), 401, "not_authenticated")
    actions = list(AuditEvent.objects.filter(target_id=created["id"]).values_list("action", flat=True))
    assert sorted(actions) == ["token_created", "token_revoked"]


def test_cannot_revoke_someone_elses_token(api, user, other_user):
    theirs, _raw = token_create(actor=None, user=other_user, name="theirs")
    assert_error(api(user).delete(f"/api/v1/tokens/{theirs.pk}"), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_token_list_shows_only_own_tokens(api, user, other_user):
    token_create(actor=None, user=other_user, name="theirs")
    names = {item["name"] for item in api(user).get("/api/v1/tokens/").json()["items"]}
    assert "theirs" not in names


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "scopes": ["root"]}, "scopes"),
        ({"name": "", "scopes": []}, "name"),
        ({"name": "x", "expires_in_days": 100000}, "expires_in_days"),
    ],
)
def test_bad_token_requests_are_refused(api, user, payload, field):
    response = api(user).post("/api/v1/tokens/", json=payload)
    error = assert_error(response, 422, "validation_error")
    assert field in str(error["details"])
    assert ApiToken.objects.filter(user=user).count() == 1  # only the fixture's own token


def test_scoped_token_limits_the_api_areas(client, user):
    _t, docs_only = token_create(actor=None, user=user, name="docs", scopes=["docs"])
    _t, account_read = token_create(actor=None, user=user, name="ro", scopes=["account:read"])
    error = assert_error(client.get("/api/v1/users/me", headers=bearer(docs_only)), 403, "insufficient_scope")
    assert error["details"]["required"] == "account"
    assert client.get("/api/v1/users/me", headers=bearer(account_read)).status_code == 200
    response = client.post(
        "/api/v1/teams/", data={"name": "x"}, content_type="application/json", headers=bearer(account_read)
    )
    assert_error(response, 403, "insufficient_scope")


def test_a_token_cannot_mint_a_wider_token(client, user):
    _t, scoped = token_create(actor=None, user=user, name="acct", scopes=["account"])
    response = client.post(
        "/api/v1/tokens/", data={"name": "wider", "scopes": []}, content_type="application/json", headers=bearer(scoped)
    )
    assert_error(response, 403, "permission_denied")
    response = client.post(
        "/api/v1/tokens/", data={"name": "same", "scopes": ["account:read"]}, content_type="application/json",
        headers=bearer(scoped),
    )
    assert response.status_code == 201


def test_bot_user_tokens_work_but_bots_cannot_log_in(client, db):
    from suite.identity.services import user_create

    bot = user_create(email="bot@example.gouv.fr", is_bot=True)
    _t, raw = token_create(actor=None, user=bot, name="bot")
    assert client.get("/api/v1/users/me", headers=bearer(raw)).json()["is_bot"] is True
    assert not client.login(username="bot@example.gouv.fr", password="anything")
    UserFactory()  # unrelated users do not matter
