"""Request size limits (``suite.limits``): bodies per operation (413) and URLs (414), in the
uniform error shape, through Django and through the ASGI layer in front of it."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_a_body_over_the_api_limit_is_413(api, user, settings):
    settings.API_MAX_BODY_BYTES = 2000
    body = json.dumps({"name": "x" * 3000})
    error = assert_error(api(user).post("/api/v1/teams/", json=body), 413, "payload_too_large")
    assert error["details"] == {"max_bytes": 2000}
    assert api(user).post("/api/v1/teams/", json={"name": "x" * 90}).status_code == 201


def test_a_body_over_what_django_reads_is_413_not_500(api, user, settings):
    """Found by a security review: Django's RequestDataTooBig was a 500."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4000
    for content_type in ("application/json", "application/octet-stream"):
        response = api(user).post("/api/v1/teams/", json=b"{" + b" " * 5000 + b"}",
                                  CONTENT_TYPE=content_type)
        error = assert_error(response, 413, "payload_too_large")
        assert error["details"]["max_bytes"] in (4000, 1024 * 1024)


def test_a_body_over_what_django_reads_is_413_outside_the_api_too(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4000
    response = client.post("/auth/login/", data=b"{" + b" " * 5000 + b"}",
                           content_type="application/json")
    assert assert_error(response, 413, "payload_too_large")["details"] == {"max_bytes": 4000}


def test_the_content_api_takes_a_5_mb_markdown_import(api, user):
    client = api(user)
    document = client.post("/api/v1/documents/", json={"title": "Rapport"}).json()
    # 5 MiB of ASCII: more characters than the converter used to take (5,000,000)
    paragraph = "The municipal council debated the budget of the coming year. " * 160
    markdown = "\n\n".join(f"## Section {n}\n\n{paragraph}" for n in range(540))
    assert len(markdown) > 5 * 1024 * 1024
    body = json.dumps({"format": "markdown", "content": markdown})

    response = client.patch(f"/api/v1/documents/{document['id']}/content", json=body)

    assert response.status_code == 200, response.content[:300]
    text = client.get(f"/api/v1/documents/{document['id']}/content?format=text").json()["content"]
    assert text.count("Section") == 540
    # the same body anywhere else is over the API limit
    error = assert_error(client.post("/api/v1/teams/", json=body), 413, "payload_too_large")
    assert error["details"] == {"max_bytes": 1024 * 1024}


def test_the_content_limit_is_its_own_setting(api, user, settings):
    settings.DOCS_CONTENT_MAX_BODY_BYTES = 5000
    client = api(user)
    document = client.post("/api/v1/documents/", json={"title": "t"}).json()
    body = json.dumps({"format": "markdown", "content": "a" * 6000})
    response = client.patch(f"/api/v1/documents/{document['id']}/content", json=body)
    assert assert_error(response, 413, "payload_too_large")["details"] == {"max_bytes": 5000}


# --- the ASGI layer ------------------------------------------------------------------------------


class Reader:
    """An inner ASGI application reading the whole body first, as Django's handler does."""

    def __init__(self):
        self.called = False

    async def __call__(self, scope, receive, send):
        self.called = True
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def call(app, *, path="/api/v1/teams/", query=b"", headers=(), chunks=(b"",)):
    from suite.limits import RequestLimits

    messages = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
                for i, chunk in enumerate(chunks)]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
             "query_string": query, "headers": list(headers)}
    asyncio.run(RequestLimits(app)(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, body


def test_asgi_refuses_a_declared_length_over_the_cap_without_reading(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    app = Reader()
    status, body = call(app, headers=[(b"content-length", b"1001")], chunks=(b"x" * 1001,))
    assert status == 413 and not app.called
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_asgi_counts_a_chunked_body_as_it_arrives(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    status, body = call(Reader(), chunks=(b"x" * 600, b"x" * 600, b"x" * 600))
    assert status == 413
    assert json.loads(body)["error"]["details"] == {"max_bytes": 1000}
    assert call(Reader(), chunks=(b"x" * 600, b"x" * 400)) == (200, b"1000")


def test_asgi_leaves_protocol_bodies_to_their_protocol(settings):
    """WOPI PutFile and WebDAV PUT carry whole files: their own limits apply."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert call(Reader(), path="/wopi/files/x/contents", chunks=(b"x" * 2000,)) == (200, b"2000")


def test_asgi_refuses_a_url_over_the_limit(settings):
    settings.HTTP_MAX_URL_BYTES = 2048
    status, body = call(Reader(), query=b"q=" + b"a" * 2048)
    assert status == 414
    error = json.loads(body)["error"]
    assert error["code"] == "uri_too_long" and error["details"] == {"max_bytes": 2048}
    assert call(Reader(), query=b"q=" + b"a" * 1000)[0] == 200


def test_the_openapi_document_declares_413_on_every_body(client):
    openapi = client.get("/api/v1/openapi.json").json()
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)
    content = openapi["paths"]["/api/v1/documents/{document_id}/content"]["patch"]
    assert str(16 * 1024 * 1024) in content["responses"]["413"]["description"]
