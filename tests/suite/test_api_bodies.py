"""Every JSON request body of the API is an object with known fields: walked over the whole
OpenAPI document, so an operation added later is checked too.

Found by a security review: ninja's ``Schema`` read any JSON value attribute by attribute
(``PATCH`` of a document with the body ``"oops"`` renamed it "Oops", ``str.title``; ``[]``
moved a document to the root) and ignored unknown fields (``{"target": ...}`` on move).
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from ninja import NinjaAPI, Router, Schema

from suite.api import register_router
from suite.schemas import InputSchema
from tests.conftest import assert_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NON_OBJECTS = ['"oops"', "[1, 2, 3]", "[]", "null", "false", "1"]


@pytest.fixture
def openapi(client):
    return client.get("/api/v1/openapi.json").json()


def body_operations(openapi):
    """``(method, path with ids filled in, body required)`` of every operation taking JSON."""
    operations = []
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody")
            if body is None or "application/json" not in body["content"]:
                continue
            concrete = re.sub(r"\{[^}]+\}", lambda _match: str(uuid.uuid4()), path)
            operations.append((method, concrete, body.get("required", False)))
    return operations


def test_the_walk_finds_the_body_operations(openapi):
    operations = body_operations(openapi)
    assert len(operations) >= 30
    optional = {path.split("/")[3] for _method, path, required in operations if not required}
    assert optional == {"realtime", "drive"}  # tickets, share link open, upload-ended


@pytest.mark.parametrize("body", NON_OBJECTS)
def test_every_operation_refuses_a_body_that_is_not_an_object(api, openapi, body):
    client = api(UserFactory())
    for method, path, required in body_operations(openapi):
        if body == "null" and not required:
            continue  # an optional body may be sent as null: the same as no body
        response = client._call(method, path, json=body)
        error = assert_error(response, 422, "validation_error")
        assert error["details"]["errors"], (method, path)


def test_every_operation_refuses_an_unknown_field(api, openapi):
    client = api(UserFactory())
    for method, path, _required in body_operations(openapi):
        response = client._call(method, path, json=json.dumps({"zz_unknown": 1}))
        error = assert_error(response, 422, "validation_error")
        types = {(e["field"], e["type"]) for e in error["details"]["errors"]}
        assert ("zz_unknown", "extra_forbidden") in types, (method, path, types)


def test_every_body_schema_says_no_additional_properties(openapi):
    schemas = openapi["components"]["schemas"]
    seen = set()

    def check(schema):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name in seen:
                return
            seen.add(name)
            schema = schemas[name]
        for variant in schema.get("anyOf", []) + schema.get("allOf", []):
            check(variant)
        if schema.get("type") == "object":
            assert schema.get("additionalProperties") is False, schema.get("title")
            for field in schema.get("properties", {}).values():
                check(field)
        if schema.get("type") == "array":
            check(schema.get("items", {}))

    for method, path, _required in body_operations(openapi):
        operation = openapi["paths"][_template(openapi, method, path)][method]
        check(operation["requestBody"]["content"]["application/json"]["schema"])
    assert {"DocumentUpdateIn", "UploadEndedIn", "PartIn", "TicketIn"} <= seen


def _template(openapi, method, concrete):
    for path in openapi["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        if re.fullmatch(pattern, concrete) and method in openapi["paths"][path]:
            return path
    raise AssertionError(concrete)


def test_optional_bodies_still_work_without_a_body(api, user, openapi):
    response = api(user).post("/api/v1/realtime/tickets", json="")
    assert response.status_code == 201, response.content
    client = api(UserFactory())
    for method, path, required in body_operations(openapi):
        if not required:  # no body, or null: past validation (the ids here are unknown)
            for body in ("", "null"):
                response = client._call(method, path, json=body)
                assert response.status_code != 422, (method, path, body, response.content)


def test_a_string_body_no_longer_renames_a_document(api, user):
    client = api(user)
    document = client.post("/api/v1/documents/", json=json.dumps({"title": "kept"})).json()
    response = client.patch(f"/api/v1/documents/{document['id']}", json='"oops"')
    assert_error(response, 422, "validation_error")
    assert client.get(f"/api/v1/documents/{document['id']}").json()["title"] == "kept"


class PlainBody(Schema):
    name: str


class OuterBody(InputSchema):
    inner: list[PlainBody] | None = None


@pytest.mark.parametrize("body", ["PlainBody", "OuterBody"])
def test_an_operation_with_a_plain_schema_body_cannot_be_mounted(body):
    router = Router()
    if body == "PlainBody":
        @router.post("/x")
        def plain(request, payload: PlainBody):
            return {}
    else:
        @router.post("/x")
        def outer(request, payload: OuterBody):
            return {}

    with pytest.raises(ImproperlyConfigured, match="PlainBody must derive from"):
        register_router(NinjaAPI(urls_namespace=f"t-{body}"), "/x/", router, scope_area="account")


@pytest.mark.parametrize("query", ["q=a&q=b", "limit=1&limit=2", "ordering=title&ordering=-title"])
def test_a_query_parameter_given_twice_is_refused(api, user, query):
    """Found by the fuzzer: ``?q=a&q=b`` was read as ``q=b`` without a word."""
    response = api(user).get(f"/api/v1/drive/items/?{query}")
    error = assert_error(response, 422, "validation_error")
    assert [e["field"] for e in error["details"]["errors"]] == [query.split("=")[0]]
    assert api(user).get(f"/api/v1/drive/items/?{query.split('&')[0]}").status_code == 200


def test_datetimes_of_any_offset_are_taken_in_utc():
    """Found by the fuzzer: an expiry at "…+23:30" (RFC 3339 allows it) reached PostgreSQL,
    which refuses offsets past ±15:59: a 500."""
    from pydantic import ValidationError

    from drive_app.schemas.links import LinkUpdateIn

    link = LinkUpdateIn.model_validate({"expires_at": "6495-04-21T14:23:30+23:30"})
    assert link.expires_at.isoformat() == "6495-04-20T14:53:30+00:00"
    with pytest.raises(ValidationError, match="out of the range of dates"):
        LinkUpdateIn.model_validate({"expires_at": "9999-12-31T23:00:00-05:00"})


def test_a_link_expiring_at_a_far_offset_is_stored(api, user, s3_settings):
    client = api(user)
    folder = client.post("/api/v1/drive/items/", json={"type": "folder", "title": "Partage"}).json()
    link = client.post(f"/api/v1/drive/items/{folder['id']}/links/", json={}).json()
    response = client.patch(f"/api/v1/drive/items/{folder['id']}/links/{link['id']}/",
                            json={"expires_at": "6495-04-21T14:23:30+23:30"})
    assert response.status_code == 200, response.content
    assert response.json()["expires_at"].startswith("6495-04-20T14:53:30")
