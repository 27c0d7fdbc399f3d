from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and cached values must not leak from one test to the next."""
    cache.clear()
    yield


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def token_for(db):
    """``token_for(user, scopes=[...])`` → a real API token string for ``user``."""
    from suite.identity.tokens import token_create

    def make(user, scopes=None, days=None):
        return token_create(actor=None, user=user, name="test", scopes=scopes or [], expires_in_days=days)[1]

    return make


@pytest.fixture
def api(client, token_for):
    """An API client authenticated as a user with a bearer token: ``api(user).get(path)``."""

    class Api:
        def __init__(self, user, scopes=None):
            self.headers = {"Authorization": f"Bearer {token_for(user, scopes)}"}

        def _call(self, method, path, json=None, **extra):
            headers = {**self.headers, **extra.pop("headers", {})}
            kwargs = {"headers": headers}
            if json is not None:
                kwargs["data"] = json
                kwargs["content_type"] = "application/json"
            return getattr(client, method)(path, **kwargs, **extra)

        def get(self, path, **extra):
            return self._call("get", path, **extra)

        def post(self, path, json=None, **extra):
            return self._call("post", path, json=json if json is not None else {}, **extra)

        def patch(self, path, json=None, **extra):
            return self._call("patch", path, json=json if json is not None else {}, **extra)

        def put(self, path, json=None, **extra):
            return self._call("put", path, json=json if json is not None else {}, **extra)

        def delete(self, path, **extra):
            return self._call("delete", path, **extra)

    return Api


@pytest.fixture(scope="session")
def s3_engine(tmp_path_factory):
    """A real SeaweedFS S3 for the session, with its bucket; returns its settings."""
    from suite.embedded.engines import EmbeddedS3

    engine = EmbeddedS3(tmp_path_factory.mktemp("seaweedfs"))
    config = engine.start("communs-test")
    yield config
    engine.stop()


@pytest.fixture
def s3_settings(s3_engine, settings):
    """Point the storage settings at the session's SeaweedFS for one test."""
    settings.S3_ENDPOINT_URL = s3_engine["S3_ENDPOINT_URL"]
    settings.S3_PUBLIC_ENDPOINT_URL = s3_engine["S3_ENDPOINT_URL"]
    settings.S3_ACCESS_KEY_ID = s3_engine["S3_ACCESS_KEY_ID"]
    settings.S3_SECRET_ACCESS_KEY = s3_engine["S3_SECRET_ACCESS_KEY"]
    settings.S3_BUCKET = s3_engine["S3_BUCKET"]
    return settings


def assert_error(response, status, code):
    """The uniform error shape, with the expected status and code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
