"""A real OpenID Provider for the identity tests (panva's oidc-provider under Node, see
``tests/interop/oidc_provider.mjs``), and helpers that drive it like a browser would.

Import the fixtures from a test module::

    from tests.oidc_fixtures import oidc_provider, oidc_settings  # noqa: F401

``oidc_provider`` (session) starts the provider with a signing key generated here, so tests can
sign tokens with the provider's own key (valid or deliberately broken logout tokens) and
forge tokens with a different one. ``oidc_settings`` points Django at it for one test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

INTEROP_DIR = Path(__file__).resolve().parent / "interop"
SCRIPT = INTEROP_DIR / "oidc_provider.mjs"

CLIENT_ID = "communs"
CLIENT_SECRET = "communs-client-secret"
# A second client, ProConnect-like: client_secret_basic and userinfo returned as a signed JWT.
JWT_USERINFO_CLIENT_ID = "communs-signed-userinfo"
REDIRECT_URI = "http://testserver/oidc/callback/"
POST_LOGOUT_REDIRECT_URI = "http://testserver/"
API_AUDIENCE = "urn:communs:api"
OTHER_AUDIENCE = "urn:elsewhere:api"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"

ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {
        "email": "alice.martin@finances.gouv.fr",
        "email_verified": True,
        "given_name": "Alice",
        "usual_name": "Martin",
        "siret": "11000201100044",
        "organization_name": "Direction générale des Finances publiques",
        "locale": "fr-FR",
    },
    "bob": {
        "email": "bob.durand@interieur.gouv.fr",
        "email_verified": True,
        "given_name": "Bob",
        "usual_name": "Durand",
        "siret": "11000101300017",
    },
    # Same email as alice, another subject: must never take over alice's account.
    "mallory": {"email": "alice.martin@finances.gouv.fr", "given_name": "Mallory"},
    "no-email": {"given_name": "Anonyme", "usual_name": "Sans courriel"},
    # The provider does not vouch for this email: it must not claim an existing account.
    "unverified": {"email": "claire.petit@culture.gouv.fr", "email_verified": False},
}


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
    jwk.pop("key_ops", None)  # PyJWT says ["sign"]: the provider would not verify with it.
    jwk.update(kid=kid, alg="RS256", use="sig")
    return jwk


class _FormParser(HTMLParser):
    """Collects the forms of an HTML page: action, method and the named inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append({"action": values.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1]["fields"][values["name"]] = values.get("value") or ""


def parse_forms(html: str) -> list[dict[str, Any]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


@dataclass
class OIDCProvider:
    """The running provider: its issuer, discovery document and signing key."""

    issuer: str
    discovery: dict[str, Any]
    signing_key: rsa.RSAPrivateKey
    kid: str
    process: subprocess.Popen[bytes]
    accounts: dict[str, dict[str, Any]] = field(default_factory=lambda: ACCOUNTS)

    # --- tokens signed by the provider's own key (or forged with another) --------------------

    def sign(
        self,
        claims: dict[str, Any],
        *,
        key: Any = None,
        kid: str | None = None,
        algorithm: str = "RS256",
        headers: dict[str, Any] | None = None,
    ) -> str:
        """A JWT over ``claims``, signed with the provider's key unless ``key`` is given."""
        header = {"kid": self.kid if kid is None else kid, **(headers or {})}
        return jwt.encode(
            claims, self.signing_key if key is None else key, algorithm=algorithm, headers=header
        )

    def access_token_claims(self, sub: str = "alice", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": sub, "aud": API_AUDIENCE, "iat": now, "exp": now + 300,
            "jti": secrets.token_urlsafe(8), "client_id": CLIENT_ID, "scope": "api",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def logout_token_claims(self, *, sub: str | None = None, sid: str | None = None, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120,
            "jti": secrets.token_urlsafe(8), "events": {BACKCHANNEL_EVENT: {}},
            "sub": sub, "sid": sid,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    # --- a user agent at the provider ---------------------------------------------------------

    def authorize(self, authorization_url: str, *, account: str, browser: requests.Session | None = None) -> str:
        """Play the user at the provider: follow ``authorization_url``, sign in as ``account``,
        consent, and return the redirect back to the client (not followed: it points at
        Django's test server). ``browser`` keeps the provider session (cookies) across calls."""
        browser = browser or requests.Session()
        url = authorization_url
        for _ in range(20):
            if url.startswith(("http://testserver", "/oidc/callback")):
                return url
            response = browser.get(url, allow_redirects=False, timeout=10)
            while response.status_code in (302, 303):
                url = urljoin(url, response.headers["Location"])
                if url.startswith("http://testserver"):
                    return url
                response = browser.get(url, allow_redirects=False, timeout=10)
            assert response.status_code == 200, (response.status_code, response.text[:500])
            form = parse_forms(response.text)[0]
            fields = dict(form["fields"])
            if fields.get("prompt") == "login":
                fields.update(login=account, password="any")
            response = browser.post(
                urljoin(url, form["action"]), data=fields, allow_redirects=False, timeout=10
            )
            assert response.status_code in (302, 303), (response.status_code, response.text[:500])
            url = urljoin(url, response.headers["Location"])
        raise AssertionError("the provider never redirected back to the client")

    def tokens(
        self,
        *,
        account: str,
        resource: str | None = None,
        scope: str = "openid email profile",
        browser: requests.Session | None = None,
    ) -> dict[str, Any]:
        """A complete authorization code flow with PKCE, as a third-party API client would do
        it; with ``resource``, the access token is a JWT for that audience (RFC 8707)."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {
            "client_id": CLIENT_ID, "response_type": "code", "scope": scope,
            "redirect_uri": REDIRECT_URI, "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16), "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if resource:
            params["resource"] = resource
        redirect = self.authorize(
            f"{self.discovery['authorization_endpoint']}?{urlencode(params)}",
            account=account, browser=browser,
        )
        code = parse_qs(urlsplit(redirect).query)["code"][0]
        data = {
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        }
        if resource:
            data["resource"] = resource
        response = requests.post(self.discovery["token_endpoint"], data=data, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def end_session(self, browser: requests.Session, *, id_token: str) -> None:
        """RP-initiated logout at the provider, confirmed by the user: the provider then sends
        back-channel logout tokens to the clients of that session."""
        response = browser.get(
            self.discovery["end_session_endpoint"],
            params={"id_token_hint": id_token}, allow_redirects=False, timeout=10,
        )
        assert response.status_code == 200, response.text[:500]
        form = parse_forms(response.text)[0]
        response = browser.post(
            urljoin(response.url, form["action"]),
            data={**form["fields"], "logout": "yes"}, allow_redirects=False, timeout=10,
        )
        assert response.status_code in (302, 303), response.text[:500]

    def logout_tokens(self) -> list[str]:
        """The logout tokens the provider has POSTed to its back-channel receiver."""
        return requests.get(f"{self.issuer}/__test/logout-tokens", timeout=10).json()


def _start_provider(log_dir: Path) -> OIDCProvider:
    node = shutil.which("node")
    if node is None or not (INTEROP_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the OIDC tests need Node and `npm install` in tests/interop")
    key = _rsa_key()
    kid = "communs-test-" + secrets.token_hex(4)
    client_base = {
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [REDIRECT_URI],
        "post_logout_redirect_uris": [POST_LOGOUT_REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
    }
    config = {
        "jwks": {"keys": [_private_jwk(key, kid)]},
        "clients": [
            {**client_base, "client_id": CLIENT_ID, "token_endpoint_auth_method": "client_secret_post"},
            {
                **client_base,
                "client_id": JWT_USERINFO_CLIENT_ID,
                "token_endpoint_auth_method": "client_secret_basic",
                "userinfo_signed_response_alg": "RS256",
            },
        ],
        "accounts": ACCOUNTS,
        "resources": {API_AUDIENCE: {"scope": "api"}, OTHER_AUDIENCE: {"scope": "api"}},
    }
    stdout_path, stderr_path = log_dir / "provider.out", log_dir / "provider.err"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=INTEROP_DIR,
            env={**os.environ, "OIDC_PROVIDER_CONFIG": json.dumps(config)},
            stdout=stdout,
            stderr=stderr,
        )
    deadline = time.monotonic() + 20
    while True:
        line = stdout_path.read_text().partition("\n")[0]
        if line:
            break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the OIDC provider did not start: {stderr_path.read_text()[-2000:]}")
        time.sleep(0.05)
    issuer = json.loads(line)["issuer"]
    discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    return OIDCProvider(issuer=issuer, discovery=discovery, signing_key=key, kid=kid, process=process)


_running: list[OIDCProvider] = []


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """The session's running OpenID Provider (stopped at the end of the session).

    Each test module that imports this fixture gets its own session-scoped definition, so the
    process is kept here to start it only once per session."""
    if not _running:
        _running.append(_start_provider(tmp_path_factory.mktemp("oidc-provider")))
    yield _running[0]
    while _running:
        process = _running.pop().process
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def oidc_settings(settings, oidc_provider):
    """Django's OIDC settings pointed at the test provider (client ``communs``)."""
    discovery = oidc_provider.discovery
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_TOKEN_USE_BASIC_AUTH = False
    settings.OIDC_OP_DISCOVERY_URL = ""
    settings.OIDC_OP_ISSUER = discovery["issuer"]
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = discovery["authorization_endpoint"]
    settings.OIDC_OP_TOKEN_ENDPOINT = discovery["token_endpoint"]
    settings.OIDC_OP_USER_ENDPOINT = discovery["userinfo_endpoint"]
    settings.OIDC_OP_JWKS_ENDPOINT = discovery["jwks_uri"]
    settings.OIDC_OP_LOGOUT_ENDPOINT = discovery["end_session_endpoint"]
    settings.OIDC_OP_INTROSPECTION_ENDPOINT = ""
    settings.OIDC_RP_SCOPES = "openid email profile siret"
    settings.OIDC_API_AUDIENCES = [API_AUDIENCE]
    settings.OIDC_CREATE_USER = True
    settings.OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION = False
    return settings


@pytest.fixture
def oidc_login(db, oidc_settings, oidc_provider):
    """``oidc_login(client, account)``: the whole authorization code flow for a Django test
    client, returning ``(callback_response, browser)`` where ``browser`` holds the provider
    session (to log out there later)."""

    def login(client, account: str, browser: requests.Session | None = None):
        browser = browser or requests.Session()
        response = client.get("/oidc/authenticate/")
        assert response.status_code == 302, response.content
        redirect = oidc_provider.authorize(response["Location"], account=account, browser=browser)
        parts = urlsplit(redirect)
        return client.get(f"{parts.path}?{parts.query}"), browser

    return login
