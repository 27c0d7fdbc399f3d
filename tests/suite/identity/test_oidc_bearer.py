"""OIDC access tokens presented to the API as ``Authorization: Bearer``: real tokens issued
by the test provider, and forged or broken ones that must all get the same 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache

from suite.identity import oidc
from suite.identity.models import User
from tests import oidc_fixtures
from tests.conftest import assert_error
from tests.factories import UserFactory
from tests.oidc_fixtures import ACCOUNTS, API_AUDIENCE, CLIENT_ID, OTHER_AUDIENCE

pytestmark = pytest.mark.django_db

# The shared OIDC fixtures, made visible to this module's tests.
oidc_provider = oidc_fixtures.oidc_provider
oidc_settings = oidc_fixtures.oidc_settings

ME = "/api/v1/users/me"


def _me(client, token):
    return client.get(ME, headers={"Authorization": f"Bearer {token}"})


def _refused(client, token):
    error = assert_error(_me(client, token), 401, "not_authenticated")
    return error


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(signature)}"


@pytest.fixture(scope="module")
def other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def api_token(oidc_provider):
    """``api_token(account, resource=API_AUDIENCE)``: a JWT access token issued by the provider
    through a real authorization code flow with a resource indicator."""

    def issue(account="alice", resource=API_AUDIENCE):
        return oidc_provider.tokens(account=account, resource=resource, scope="openid email profile api")

    return issue


# --- accepted -------------------------------------------------------------------------------------


def test_provider_access_token_authenticates_and_creates_user(client, oidc_settings, api_token):
    token = api_token("alice")["access_token"]
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"

    response = _me(client, token)

    assert response.status_code == 200, response.content
    user = User.objects.get(sub="alice")
    assert response.json()["id"] == str(user.pk)
    assert (user.email, user.full_name) == (ACCOUNTS["alice"]["email"], "Alice Martin")
    assert user.organization.registration_id == ACCOUNTS["alice"]["siret"]


def test_access_token_maps_existing_user_by_subject(client, oidc_settings, api_token):
    existing = UserFactory(sub="bob", email="bob.old@interieur.gouv.fr", full_name="B. Durand")

    response = _me(client, api_token("bob")["access_token"])

    assert response.json()["id"] == str(existing.pk)
    existing.refresh_from_db()
    assert (existing.email, existing.full_name) == (ACCOUNTS["bob"]["email"], "Bob Durand")
    assert User.objects.count() == 1


def test_access_token_without_profile_claims_needs_a_known_subject(client, oidc_settings, oidc_provider):
    token = oidc_provider.sign(oidc_provider.access_token_claims(sub="carol"))
    _refused(client, token)

    carol = UserFactory(sub="carol")
    assert _me(client, token).json()["id"] == str(carol.pk)


def test_expiry_is_checked_with_leeway(client, oidc_settings, oidc_provider):
    UserFactory(sub="alice")
    now = int(time.time())
    token = oidc_provider.sign(oidc_provider.access_token_claims(iat=now - 600, exp=now - 10))

    oidc_settings.OIDC_API_LEEWAY = 30
    assert _me(client, token).status_code == 200
    oidc_settings.OIDC_API_LEEWAY = 0
    _refused(client, token)


def test_opaque_token_through_introspection(client, oidc_settings, oidc_provider):
    oidc_settings.OIDC_OP_INTROSPECTION_ENDPOINT = oidc_provider.discovery["introspection_endpoint"]
    token = oidc_provider.tokens(account="alice")["access_token"]  # opaque: for userinfo
    assert token.count(".") == 0

    assert _me(client, token).status_code == 200
    assert User.objects.filter(sub="alice").exists()
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert cache.get(f"oidc:introspection:{digest}")["sub"] == "alice"
    assert not any(token in str(key) for key in cache._cache.get_client().keys("*"))


# --- refused --------------------------------------------------------------------------------------


def test_token_signed_by_another_key_is_refused(client, oidc_settings, oidc_provider, other_key):
    UserFactory(sub="alice")
    claims = oidc_provider.access_token_claims()
    assert _me(client, oidc_provider.sign(claims)).status_code == 200  # the same claims, signed right

    _refused(client, oidc_provider.sign(claims, key=other_key))  # the provider's kid, wrong key
    _refused(client, oidc_provider.sign(claims, key=other_key, kid="unknown-kid"))


def test_token_for_another_audience_is_refused(client, oidc_settings, api_token):
    _refused(client, api_token("alice", resource=OTHER_AUDIENCE)["access_token"])
    assert not User.objects.exists()


def test_token_from_another_issuer_is_refused(client, oidc_settings, oidc_provider):
    UserFactory(sub="alice")
    _refused(client, oidc_provider.sign(oidc_provider.access_token_claims(iss="https://idp.example")))


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"nbf": int(time.time()) + 3600},
        {"iat": int(time.time()) + 3600},
        {"exp": None},
        {"iat": None},
        {"aud": None},
    ],
    ids=["expired", "not-yet-valid", "issued-in-the-future", "no-exp", "no-iat", "no-aud"],
)
def test_token_with_bad_time_or_missing_claims_is_refused(client, oidc_settings, oidc_provider, overrides):
    UserFactory(sub="alice")
    _refused(client, oidc_provider.sign(oidc_provider.access_token_claims(**overrides)))


def test_unsigned_token_is_refused(client, oidc_settings, oidc_provider):
    UserFactory(sub="alice")
    claims = oidc_provider.access_token_claims()

    _refused(client, _unsigned({"alg": "none", "typ": "at+jwt"}, claims))
    _refused(client, _unsigned({"alg": "none", "kid": oidc_provider.kid}, claims))


def test_hmac_token_keyed_with_provider_public_key_is_refused(client, oidc_settings, oidc_provider):
    """Algorithm confusion: HS256 with the provider's public key as the shared secret."""
    UserFactory(sub="alice")
    public_pem = oidc_provider.signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": oidc_provider.kid}
    unsigned = _unsigned(header, oidc_provider.access_token_claims()).rsplit(".", 1)[0]
    token = f"{unsigned}.{_b64(hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest())}"

    oidc_settings.OIDC_API_ALGORITHMS = ["RS256", "HS256"]  # even when misconfigured
    _refused(client, token)


def test_id_token_is_not_an_access_token(client, oidc_settings, api_token):
    oidc_settings.OIDC_API_AUDIENCES = [API_AUDIENCE, CLIENT_ID]  # the ID token's audience
    UserFactory(sub="alice")

    _refused(client, api_token("alice")["id_token"])


def test_inactive_user_token_is_refused(client, oidc_settings, api_token):
    UserFactory(sub="alice", email=ACCOUNTS["alice"]["email"], is_active=False)

    _refused(client, api_token("alice")["access_token"])


def test_provider_tokens_are_refused_when_oidc_is_off(client, oidc_settings, api_token):
    token = api_token("alice")["access_token"]
    oidc_settings.OIDC_ENABLED = False

    _refused(client, token)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "not-a-jwt-but-opaque-token-0123456789"])
def test_malformed_or_unknown_tokens_are_refused(client, oidc_settings, oidc_provider, token):
    oidc_settings.OIDC_OP_INTROSPECTION_ENDPOINT = oidc_provider.discovery["introspection_endpoint"]
    _refused(client, token)


def test_opaque_token_refused_without_introspection(client, oidc_settings, oidc_provider):
    _refused(client, oidc_provider.tokens(account="alice")["access_token"])


def test_jwks_client_is_shared_per_url(oidc_settings):
    url = oidc_settings.OIDC_OP_JWKS_ENDPOINT
    assert oidc.jwks_client(url, 10) is oidc.jwks_client(url, 10)
