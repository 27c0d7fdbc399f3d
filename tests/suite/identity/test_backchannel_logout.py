"""OpenID Connect Back-Channel Logout 1.0: the provider ends our sessions by POSTing a
logout token to /oidc/backchannel-logout/."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from suite.identity.models import AuditAction, AuditEvent, User, UserSession
from tests import oidc_fixtures
from tests.conftest import assert_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# The shared OIDC fixtures, made visible to this module's tests.
oidc_login = oidc_fixtures.oidc_login
oidc_provider = oidc_fixtures.oidc_provider
oidc_settings = oidc_fixtures.oidc_settings

URL = "/oidc/backchannel-logout/"
ME = "/api/v1/users/me"


def _post_logout(token):
    return Client().post(URL, {"logout_token": token})


def _signed_in(client):
    return client.get(ME).status_code == 200


def _session_with_sid(user, sid):
    """A signed-in Django client whose session the provider knows as ``sid``."""
    client = Client()
    client.force_login(user, backend="suite.identity.oidc.SuiteOIDCBackend")
    UserSession.objects.filter(session_key=client.session.session_key).update(oidc_sid=sid)
    return client


def test_provider_logout_ends_that_session_only(oidc_login, oidc_provider):
    alice, bob = Client(), Client()
    _, alice_browser = oidc_login(alice, "alice")
    oidc_login(bob, "bob")
    sent_before = len(oidc_provider.logout_tokens())

    # The user signs out at the provider, which notifies us on the back channel.
    oidc_provider.end_session(alice_browser, id_token=alice.session["oidc_id_token"])
    logout_token = oidc_provider.logout_tokens()[sent_before]
    response = _post_logout(logout_token)

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    assert_error(alice.get(ME), 401, "not_authenticated")
    assert _signed_in(bob)
    assert not UserSession.objects.filter(user__sub="alice").exists()
    event = AuditEvent.objects.get(action=AuditAction.BACKCHANNEL_LOGOUT)
    assert event.target_id == str(User.objects.get(sub="alice").pk)
    assert event.data["sessions"] == 1


def test_logout_by_sid_leaves_the_users_other_sessions(oidc_provider, oidc_settings):
    user = UserFactory(sub="alice")
    laptop, phone = _session_with_sid(user, "sid-laptop"), _session_with_sid(user, "sid-phone")

    response = _post_logout(oidc_provider.sign(oidc_provider.logout_token_claims(sid="sid-laptop")))

    assert response.status_code == 200
    assert not _signed_in(laptop)
    assert _signed_in(phone)


def test_logout_by_sub_ends_all_sessions_of_that_user(oidc_provider, oidc_settings):
    alice, bob = UserFactory(sub="alice"), UserFactory(sub="bob")
    alice_sessions = [_session_with_sid(alice, "sid-1"), _session_with_sid(alice, "sid-2")]
    bob_session = _session_with_sid(bob, "sid-3")

    response = _post_logout(oidc_provider.sign(oidc_provider.logout_token_claims(sub="alice")))

    assert response.status_code == 200
    assert not any(_signed_in(client) for client in alice_sessions)
    assert _signed_in(bob_session)


def test_sid_and_sub_must_both_match(oidc_provider, oidc_settings):
    alice, bob = UserFactory(sub="alice"), UserFactory(sub="bob")
    session = _session_with_sid(alice, "sid-1")

    claims = oidc_provider.logout_token_claims(sid="sid-1", sub=bob.sub)
    assert _post_logout(oidc_provider.sign(claims)).status_code == 200

    assert _signed_in(session)


def test_unknown_session_is_acknowledged(oidc_provider, oidc_settings):
    response = _post_logout(oidc_provider.sign(oidc_provider.logout_token_claims(sid="never-seen")))

    assert response.status_code == 200
    assert AuditEvent.objects.get(action=AuditAction.BACKCHANNEL_LOGOUT).data["sessions"] == 0


OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


BAD_TOKEN_CASES = [
    "other-key", "other-key-unknown-kid", "wrong-audience", "wrong-issuer", "no-event",
    "other-event", "nonce", "neither-sid-nor-sub", "expired", "stale-without-exp", "no-iat",
    "no-jti", "access-token-typ", "garbage",
]


def _bad_tokens(provider):
    claims = provider.logout_token_claims
    now = int(time.time())
    return {
        "other-key": provider.sign(claims(sid="sid-1"), key=OTHER_KEY),
        "other-key-unknown-kid": provider.sign(claims(sid="sid-1"), key=OTHER_KEY, kid="rotated?"),
        "wrong-audience": provider.sign(claims(sid="sid-1", aud="another-client")),
        "wrong-issuer": provider.sign(claims(sid="sid-1", iss="https://idp.example")),
        "no-event": provider.sign(claims(sid="sid-1", events=None)),
        "other-event": provider.sign(claims(sid="sid-1", events={"urn:other:event": {}})),
        "nonce": provider.sign(claims(sid="sid-1", nonce="n-0S6_WzA2Mj")),
        "neither-sid-nor-sub": provider.sign(claims()),
        "expired": provider.sign(claims(sid="sid-1", iat=now - 7200, exp=now - 3600)),
        "stale-without-exp": provider.sign(claims(sid="sid-1", iat=now - 3600, exp=None)),
        "no-iat": provider.sign(claims(sid="sid-1", iat=None)),
        "no-jti": provider.sign(claims(sid="sid-1", jti=None)),
        "access-token-typ": provider.sign(claims(sid="sid-1"), headers={"typ": "at+jwt"}),
        "garbage": "not-a-jwt",
    }


def test_every_bad_token_case_is_built(oidc_provider):
    assert sorted(_bad_tokens(oidc_provider)) == sorted(BAD_TOKEN_CASES)


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
def test_invalid_logout_token_is_refused(oidc_provider, oidc_settings, case):
    session = _session_with_sid(UserFactory(sub="alice"), "sid-1")

    response = _post_logout(_bad_tokens(oidc_provider)[case])

    error = assert_error(response, 400, "invalid_logout_token")
    assert error["details"]["reason"]
    assert response["Cache-Control"] == "no-store"
    assert _signed_in(session)
    assert not AuditEvent.objects.filter(action=AuditAction.BACKCHANNEL_LOGOUT).exists()


def test_replayed_logout_token_is_refused(oidc_provider, oidc_settings):
    token = oidc_provider.sign(oidc_provider.logout_token_claims(sid="sid-1"))
    assert _post_logout(token).status_code == 200
    session = _session_with_sid(UserFactory(sub="alice"), "sid-1")

    assert_error(_post_logout(token), 400, "invalid_logout_token")
    assert _signed_in(session)


def test_missing_logout_token_is_refused(oidc_settings):
    assert_error(Client().post(URL, {}), 400, "invalid_logout_token")


def test_backchannel_logout_needs_post(oidc_settings):
    assert_error(Client().get(URL), 405, "method_not_allowed")
