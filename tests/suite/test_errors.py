"""The uniform error shape for every class of error."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error


@pytest.mark.django_db
def test_unauthenticated_api_call_gets_401(client):
    response = client.get("/api/v1/users/me")
    error = assert_error(response, 401, "not_authenticated")
    assert error["details"] == {}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_unknown_url_gets_404_in_error_shape(client):
    assert_error(client.get("/no/such/page"), 404, "not_found")


@pytest.mark.django_db
def test_unknown_api_url_gets_404(client):
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")


@pytest.mark.django_db
def test_wrong_method_gets_405_with_allowed_methods(api, user):
    response = api(user).put("/api/v1/users/me", json={})
    error = assert_error(response, 405, "method_not_allowed")
    assert set(error["details"]["allowed_methods"]) == {"GET", "PATCH"}


@pytest.mark.django_db
def test_invalid_body_gets_422_with_field_details(api, user):
    response = api(user).post("/api/v1/teams/", json={"name": 12})
    error = assert_error(response, 422, "validation_error")
    assert error["details"]["errors"][0]["field"] == "payload.name" or error["details"]["errors"][0]["location"][-1] == "name"


@pytest.mark.django_db
def test_malformed_json_gets_uniform_400_or_422(api, user):
    response = api(user).post("/api/v1/teams/", json="{not json", headers={})
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code, "validation_error" if response.status_code == 422 else "bad_request")


@pytest.mark.django_db
def test_unexpected_exception_gets_500_without_trace(api, user, monkeypatch):
    from suite.identity import selectors

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "tokens_of", explode)
    response = api(user).get("/api/v1/tokens/")
    error = assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.content.decode()
    assert error["details"] == {}


@pytest.mark.django_db
def test_rate_limited_search_gets_429(api, user, settings):
    settings.USER_SEARCH_RATE = "2/m"
    client = api(user)
    assert client.get("/api/v1/users/?q=agent").status_code == 200
    assert client.get("/api/v1/users/?q=agent").status_code == 200
    response = client.get("/api/v1/users/?q=agent")
    assert_error(response, 429, "rate_limited")
    assert 0 < int(response["Retry-After"]) <= 60  # the seconds left in the window


@pytest.mark.django_db
def test_csrf_failure_on_session_write_gets_403(client, user):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    response = csrf_client.post("/api/v1/teams/", data={"name": "x"}, content_type="application/json")
    assert_error(response, 403, "csrf_failed")


@pytest.mark.django_db
def test_error_messages_follow_accept_language(client):
    response = client.get("/api/v1/users/me", headers={"Accept-Language": "fr"})
    error = assert_error(response, 401, "not_authenticated")
    assert error["message"] == "Authentification requise."


@pytest.mark.django_db
def test_nul_characters_are_refused_not_500(api, user):
    """Found by the API fuzzer: NUL reached PostgreSQL and failed with a 500."""
    client = api(user)
    error = assert_error(client.get("/api/v1/users/?q=%00ab"), 400, "bad_request")
    assert error["details"] == {"reason": "nul_character"}
    assert_error(client.post("/api/v1/teams/", json={"name": "a\u0000b"}), 400, "bad_request")


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["offset=703979863389508515827279420675063808", "limit=100000", "limit=0", "offset=-1"])
def test_pagination_bounds_are_validated(api, user, query):
    """Found by the API fuzzer: a huge offset overflowed PostgreSQL's bigint."""
    assert_error(api(user).get(f"/api/v1/teams/?{query}"), 422, "validation_error")


LONE_SURROGATE_BODIES = [
    b'{"title": "a\\ud800"}',  # a high half alone (JSON escape)
    b'{"title": "a\\udc00b"}',  # a low half alone
    b'{"title": "\\ud83d\\ud83d\\ude00"}',  # a high half, then a pair
    b'{"title": "a\\ud83d\\\\\\ude00"}',  # halves split by an escaped backslash
    b'{"title": "a\xed\xa0\x80"}',  # raw bytes of a surrogate (not UTF-8)
    b'{"a\\ud800": 1}',  # in a key
]


@pytest.mark.django_db
@pytest.mark.parametrize("body", LONE_SURROGATE_BODIES)
def test_lone_surrogates_in_bodies_are_refused_not_500(api, user, body):
    """Found by a security review: psycopg cannot encode them (UnicodeEncodeError, 500)."""
    error = assert_error(api(user).post("/api/v1/documents/", json=body), 400, "bad_request")
    assert error["details"] == {"reason": "lone_surrogate"}


@pytest.mark.django_db
def test_lone_surrogates_in_markdown_content_are_refused_not_500(api, user):
    """pycrdt cannot encode them either."""
    client = api(user)
    document = client.post("/api/v1/documents/", json={"title": "t"}).json()
    response = client.patch(
        f"/api/v1/documents/{document['id']}/content",
        json=b'{"format": "markdown", "content": "# a\\udc00b"}',
    )
    assert assert_error(response, 400, "bad_request")["details"] == {"reason": "lone_surrogate"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "title"),
    [
        (b'{"title": "a\\ud83d\\ude00"}', "a\U0001f600"),  # an escaped pair is one character
        (b'{"title": "a\\\\ud800"}', "a\\ud800"),  # an escaped backslash, then text
        ('{"title": "a\U0001f600"}'.encode(), "a\U0001f600"),
    ],
)
def test_valid_unicode_that_looks_like_surrogates_is_accepted(api, user, body, title):
    response = api(user).post("/api/v1/documents/", json=body)
    assert response.status_code == 201, response.content
    assert response.json()["title"] == title


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/api/v1/users/?q=ab%ED%A0%80", "/api/v1/users/?q=ab%ed%bf%bf", "/api/v1/documents/a%ED%B0%80b"]
)
def test_lone_surrogates_in_urls_are_refused(api, user, url):
    error = assert_error(api(user).get(url), 400, "bad_request")
    assert error["details"] == {"reason": "lone_surrogate"}


def test_lone_surrogates_decoded_by_the_server_are_refused(rf):
    """A server may hand the path and query over already decoded (surrogates included)."""
    from suite.errors import invalid_text

    request = rf.get("/api/v1/documents/")
    assert invalid_text(request) is None
    request.path = "/api/v1/documents/a\ud800"
    assert invalid_text(request) == "lone_surrogate"
    request = rf.get("/api/v1/users/")
    request.META["QUERY_STRING"] = "q=a\udfff"
    assert invalid_text(request) == "lone_surrogate"


def test_bytes_that_would_be_surrogates_in_utf8_are_text_in_another_charset(rf):
    """ED A0 is "í" and a no-break space in Latin-1: only UTF-8 bodies are read as UTF-8."""
    from suite.errors import invalid_text

    latin1 = rf.post("/x", data="title=\xed\xa0", content_type="text/plain; charset=iso-8859-1")
    assert latin1.body == b"title=\xed\xa0"
    assert invalid_text(latin1) is None
    utf8 = rf.post("/x", data=b"title=\xed\xa0", content_type="text/plain")
    assert invalid_text(utf8) == "lone_surrogate"
