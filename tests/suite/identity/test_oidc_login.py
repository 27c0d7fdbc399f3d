"""Login through a real OpenID Provider: the authorization code flow with PKCE, state and
nonce, claims mapped onto users, discovery and RP-initiated logout."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from django.core.exceptions import SuspiciousOperation
from django.test import Client

from suite.identity import oidc
from suite.identity.models import AuditAction, AuditEvent, User, UserSession
from suite.identity.oidc import LoginRefused, SuiteOIDCBackend
from tests import oidc_fixtures
from tests.conftest import assert_error
from tests.factories import UserFactory
from tests.oidc_fixtures import ACCOUNTS, CLIENT_ID, JWT_USERINFO_CLIENT_ID

pytestmark = pytest.mark.django_db

# The shared OIDC fixtures, made visible to this module's tests.
oidc_login = oidc_fixtures.oidc_login
oidc_provider = oidc_fixtures.oidc_provider
oidc_settings = oidc_fixtures.oidc_settings

ALICE = ACCOUNTS["alice"]


def _failed_logins(reason):
    return AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, data__reason=reason)


def _query(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# --- the code flow ------------------------------------------------------------------------------


def test_login_creates_user_from_provider_claims(client, oidc_login):
    response, _ = oidc_login(client, "alice")

    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(sub="alice")
    assert user.email == ALICE["email"]
    assert user.full_name == "Alice Martin"  # given_name + usual_name
    assert user.language == "fr"  # locale fr-FR
    assert user.organization.registration_id == ALICE["siret"]
    assert user.organization.name == ALICE["organization_name"]
    assert not user.has_usable_password()
    me = client.get("/api/v1/users/me")
    assert me.status_code == 200, me.content
    assert me.json()["email"] == ALICE["email"]
    assert AuditEvent.objects.filter(action=AuditAction.USER_CREATED, target_id=str(user.pk)).exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=user, data__method="oidc").exists()


def test_login_links_session_to_provider_sid(client, oidc_login):
    oidc_login(client, "alice")

    id_token = client.session["oidc_id_token"]
    sid = jwt.decode(id_token, options={"verify_signature": False})["sid"]
    assert client.session["oidc_sid"] == sid
    row = UserSession.objects.get(session_key=client.session.session_key)
    assert (row.user.sub, row.oidc_sid) == ("alice", sid)


def test_signing_in_again_links_session_to_new_provider_sid(client, oidc_login):
    oidc_login(client, "alice")
    first_sid = client.session["oidc_sid"]

    oidc_login(client, "alice")  # same browser here, a new session at the provider

    row = UserSession.objects.get(session_key=client.session.session_key)
    assert row.oidc_sid == client.session["oidc_sid"] != first_sid


def test_login_over_another_users_session_keeps_provider_session(client, oidc_login):
    """Signing in as someone else flushes the Django session; the ID token and sid survive."""
    client.force_login(UserFactory(), backend="suite.identity.backends.LocalPasswordBackend")

    oidc_login(client, "bob")

    assert client.get("/api/v1/users/me").json()["email"] == ACCOUNTS["bob"]["email"]
    sid = jwt.decode(client.session["oidc_id_token"], options={"verify_signature": False})["sid"]
    assert UserSession.objects.get(session_key=client.session.session_key).oidc_sid == sid


def test_authentication_request_sends_pkce_state_and_nonce(client, oidc_settings, oidc_provider):
    response = client.get("/oidc/authenticate/")

    assert response.status_code == 302
    assert response["Location"].startswith(oidc_provider.discovery["authorization_endpoint"] + "?")
    params = _query(response["Location"])
    assert params["redirect_uri"] == "http://testserver/oidc/callback/"
    assert len(params["state"]) == 48 and len(params["nonce"]) == 48
    assert params["code_challenge_method"] == "S256"
    verifier = client.session["oidc_states"][params["state"]]["code_verifier"]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_provider_refuses_authorization_without_pkce(client, oidc_settings, oidc_provider):
    """The test provider requires PKCE, so the flow above really exercises it."""
    oidc_settings.OIDC_USE_PKCE = False
    url = client.get("/oidc/authenticate/")["Location"]

    redirect = oidc_provider.authorize(url, account="alice")

    assert _query(redirect)["error"] == "invalid_request"
    assert "PKCE" in _query(redirect)["error_description"]


def test_second_login_updates_user_instead_of_creating_one(client, oidc_login):
    oidc_login(client, "alice")
    user = User.objects.get(sub="alice")
    User.objects.filter(pk=user.pk).update(
        full_name="Stale Name", email="old.address@finances.gouv.fr", organization=None, language="en"
    )

    response, _ = oidc_login(Client(), "alice")

    assert response.status_code == 302
    assert User.objects.filter(sub="alice").count() == 1
    user.refresh_from_db()
    assert user.full_name == "Alice Martin"
    assert user.email == ALICE["email"]
    assert user.language == "fr"
    assert user.organization.registration_id == ALICE["siret"]


def test_callback_with_unknown_state_is_refused(client, oidc_settings, oidc_provider):
    url = client.get("/oidc/authenticate/")["Location"]
    redirect = oidc_provider.authorize(url, account="alice")
    params = _query(redirect)

    response = client.get("/oidc/callback/", {"code": params["code"], "state": "forged-" + params["state"]})

    assert_error(response, 400, "bad_request")
    assert not User.objects.filter(sub="alice").exists()
    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")


def test_callback_without_authentication_request_is_refused(client, oidc_settings, oidc_provider):
    """A code injected into a browser that never started a login (login CSRF)."""
    url = Client().get("/oidc/authenticate/")["Location"]
    params = _query(oidc_provider.authorize(url, account="alice"))

    response = client.get("/oidc/callback/", {"code": params["code"], "state": params["state"]})

    assert response.status_code == 302
    assert not User.objects.filter(sub="alice").exists()
    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")


def test_callback_with_invalid_code_fails_cleanly(client, oidc_settings):
    state = _query(client.get("/oidc/authenticate/")["Location"])["state"]

    response = client.get("/oidc/callback/", {"code": "not-a-code", "state": state})

    assert response.status_code == 302
    assert _failed_logins("provider_exchange_failed").count() == 1
    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")


@pytest.mark.parametrize(
    "overrides",
    [{"iss": "https://idp.example"}, {"aud": "another-client"}, {"aud": [CLIENT_ID, "another-client"]},
     {"exp": None}, {"nonce": "another-nonce"}],
    ids=["issuer", "audience", "several-audiences-without-azp", "no-exp", "nonce"],
)
def test_id_token_checks(oidc_settings, oidc_provider, overrides):
    backend = SuiteOIDCBackend()
    now = int(time.time())
    claims = {"iss": oidc_provider.issuer, "sub": "alice", "aud": CLIENT_ID, "iat": now,
              "exp": now + 300, "nonce": "the-nonce"}
    assert backend.verify_token(oidc_provider.sign(claims), nonce="the-nonce")["sub"] == "alice"

    broken = {name: value for name, value in {**claims, **overrides}.items() if value is not None}
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(oidc_provider.sign(broken), nonce="the-nonce")


def test_userinfo_must_describe_the_id_token_subject(oidc_settings, oidc_provider):
    """Core §5.3.2: userinfo's sub must equal the ID token's (here: another user's token)."""
    bob_tokens = oidc_provider.tokens(account="bob")
    backend = SuiteOIDCBackend()
    alice_id_token = {"sub": "alice"}

    assert backend.get_userinfo(bob_tokens["access_token"], "", {"sub": "bob"})["sub"] == "bob"
    with pytest.raises(LoginRefused):
        backend.get_userinfo(bob_tokens["access_token"], "", alice_id_token)


# --- claims → user --------------------------------------------------------------------------------


def test_login_refused_when_email_belongs_to_another_subject(client, oidc_login):
    oidc_login(Client(), "alice")

    response, _ = oidc_login(client, "mallory")  # same email, another sub

    assert response.status_code == 302
    assert not User.objects.filter(sub="mallory").exists()
    assert User.objects.get(sub="alice").full_name == "Alice Martin"
    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")
    failure = _failed_logins("email_belongs_to_another_subject").get()
    assert failure.data["username"] == ALICE["email"] and failure.data["sub"] == "mallory"


def test_unverified_email_cannot_claim_an_existing_account(client, oidc_login):
    existing = UserFactory(email=ACCOUNTS["unverified"]["email"])

    oidc_login(client, "unverified")

    existing.refresh_from_db()
    assert existing.sub is None
    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")
    assert _failed_logins("email_not_verified").count() == 1


def test_login_refused_without_email(client, oidc_login):
    oidc_login(client, "no-email")

    assert not User.objects.filter(sub="no-email").exists()
    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")
    assert _failed_logins("missing_email").count() == 1


def test_account_without_subject_is_claimed_by_email(client, oidc_login):
    existing = UserFactory(email=ACCOUNTS["bob"]["email"], full_name="Robert")

    oidc_login(client, "bob")

    existing.refresh_from_db()
    assert existing.sub == "bob"
    assert existing.full_name == "Bob Durand"
    assert client.get("/api/v1/users/me").json()["id"] == str(existing.pk)


def test_fallback_to_email_identifies_user_with_another_subject(client, oidc_login, oidc_settings):
    oidc_settings.OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION = True
    existing = UserFactory(email=ALICE["email"], sub="subject-at-the-previous-provider")

    oidc_login(client, "alice")

    existing.refresh_from_db()
    assert existing.sub == "alice"
    assert User.objects.filter(email__iexact=ALICE["email"]).count() == 1
    assert client.get("/api/v1/users/me").status_code == 200


def test_login_refused_for_unknown_user_when_creation_is_off(client, oidc_login, oidc_settings):
    oidc_settings.OIDC_CREATE_USER = False

    oidc_login(client, "alice")

    assert not User.objects.filter(sub="alice").exists()
    assert _failed_logins("unknown_user").count() == 1


def test_inactive_user_cannot_log_in(client, oidc_login):
    UserFactory(email=ALICE["email"], sub="alice", is_active=False)

    oidc_login(client, "alice")

    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")
    assert _failed_logins("inactive_user").count() == 1


def test_login_with_userinfo_as_signed_jwt(client, oidc_login, oidc_settings, oidc_provider):
    """ProConnect answers userinfo as a signed JWT (application/jwt), with client_secret_basic."""
    oidc_settings.OIDC_RP_CLIENT_ID = JWT_USERINFO_CLIENT_ID
    oidc_settings.OIDC_TOKEN_USE_BASIC_AUTH = True
    oidc_settings.OIDC_STORE_ACCESS_TOKEN = True

    oidc_login(client, "bob")

    userinfo = requests.get(
        oidc_provider.discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {client.session['oidc_access_token']}"}, timeout=10,
    )
    assert userinfo.headers["Content-Type"].startswith("application/jwt")
    user = User.objects.get(sub="bob")
    assert (user.email, user.full_name) == (ACCOUNTS["bob"]["email"], "Bob Durand")
    assert user.organization.registration_id == ACCOUNTS["bob"]["siret"]


def test_password_login_works_while_oidc_is_unconfigured(client, settings):
    """The OIDC backend sits first in AUTHENTICATION_BACKENDS and must not get in the way."""
    settings.OIDC_ENABLED = False
    settings.OIDC_OP_JWKS_ENDPOINT = ""
    settings.SUITE_LOCAL_ACCOUNTS = True
    user = UserFactory()

    response = client.post(
        "/auth/login/", {"email": user.email, "password": "password"}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert client.get("/api/v1/users/me").json()["id"] == str(user.pk)


# --- discovery ----------------------------------------------------------------------------------


ENDPOINT_SETTINGS = {
    "OIDC_OP_ISSUER": "issuer",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
    "OIDC_OP_INTROSPECTION_ENDPOINT": "introspection_endpoint",
}


def test_discovery_fills_empty_endpoints(oidc_settings, oidc_provider):
    for name in ENDPOINT_SETTINGS:
        setattr(oidc_settings, name, "")
    oidc_settings.OIDC_OP_DISCOVERY_URL = f"{oidc_provider.issuer}/.well-known/openid-configuration"

    assert oidc.apply_discovery() == []

    for name, member in ENDPOINT_SETTINGS.items():
        assert getattr(oidc_settings, name) == oidc_provider.discovery[member], name
    assert oidc.configuration_problems() == []


def test_discovery_keeps_endpoints_set_explicitly(oidc_settings, oidc_provider):
    oidc_settings.OIDC_OP_DISCOVERY_URL = f"{oidc_provider.issuer}/.well-known/openid-configuration"
    oidc_settings.OIDC_OP_TOKEN_ENDPOINT = "http://token-proxy.internal/token"
    oidc_settings.OIDC_OP_USER_ENDPOINT = ""

    oidc.apply_discovery()

    assert oidc_settings.OIDC_OP_TOKEN_ENDPOINT == "http://token-proxy.internal/token"
    assert oidc_provider.discovery["userinfo_endpoint"] == oidc_settings.OIDC_OP_USER_ENDPOINT


@pytest.mark.parametrize("path", ["/no-such-document", ":1/unreachable"])
def test_discovery_failure_is_reported_not_raised(oidc_settings, oidc_provider, path):
    from suite.identity.oidc.discovery import check_oidc_configuration

    oidc_settings.OIDC_OP_JWKS_ENDPOINT = ""
    url = oidc_provider.issuer + path if path.startswith("/") else "http://127.0.0.1" + path
    oidc_settings.OIDC_OP_DISCOVERY_URL = url

    problems = oidc.apply_discovery()

    assert len(problems) == 1 and problems[0].startswith("OIDC_OP_DISCOVERY_URL:")
    assert oidc_settings.OIDC_OP_JWKS_ENDPOINT == ""
    messages = [error.msg for error in check_oidc_configuration()]
    assert problems[0] in messages
    assert any(message.startswith("OIDC_OP_JWKS_ENDPOINT:") for message in messages)
    oidc_settings.OIDC_OP_DISCOVERY_URL = ""
    assert oidc.apply_discovery() == []  # a later successful start forgets the problem


def test_discovery_reports_issuer_mismatch(oidc_settings, oidc_provider):
    oidc_settings.OIDC_OP_ISSUER = "https://another-issuer.example"
    oidc_settings.OIDC_OP_DISCOVERY_URL = f"{oidc_provider.issuer}/.well-known/openid-configuration"

    problems = oidc.apply_discovery()

    assert len(problems) == 1 and problems[0].startswith("OIDC_OP_ISSUER:")
    oidc_settings.OIDC_OP_DISCOVERY_URL = ""
    oidc.apply_discovery()


# --- RP-initiated logout --------------------------------------------------------------------------


def test_logout_redirects_to_provider_end_session(client, oidc_login, oidc_provider):
    _, browser = oidc_login(client, "alice")
    id_token = client.session["oidc_id_token"]

    response = client.post("/auth/logout/")

    assert response.status_code == 200
    redirect_to = response.json()["redirect_to"]
    assert redirect_to.startswith(oidc_provider.discovery["end_session_endpoint"] + "?")
    params = _query(redirect_to)
    assert params["id_token_hint"] == id_token
    assert params["post_logout_redirect_uri"] == "http://testserver/"
    assert params["state"]
    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")
    # The provider accepts it: it shows its sign-out confirmation for this session.
    confirmation = browser.get(redirect_to, allow_redirects=False, timeout=10)
    assert confirmation.status_code == 200 and "logoutForm" in confirmation.text, confirmation.text[-600:]


def test_logout_of_password_session_stays_local(client, oidc_settings):
    client.force_login(UserFactory(), backend="suite.identity.backends.LocalPasswordBackend")

    response = client.post("/auth/logout/")

    assert response.json() == {"logged_out": True, "redirect_to": "/"}


def test_logout_needs_post(client, oidc_login):
    oidc_login(client, "alice")

    assert_error(client.get("/auth/logout/"), 405, "method_not_allowed")
    assert client.get("/api/v1/users/me").status_code == 200


def test_logout_without_provider_end_session_endpoint(client, oidc_login, oidc_settings):
    oidc_login(client, "alice")
    oidc_settings.OIDC_OP_LOGOUT_ENDPOINT = ""

    assert client.post("/auth/logout/").json()["redirect_to"] == "/"
