"""The OpenAPI document describes every operation for client generators."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def openapi(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_openapi_is_public_and_3_1(openapi):
    assert openapi["openapi"].startswith("3.1")
    assert openapi["info"]["title"] == "Communs API"


def test_every_operation_has_responses_and_error_shape(openapi):
    operations = [
        (path, method, operation)
        for path, methods in openapi["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 15
    for path, method, operation in operations:
        assert operation.get("operationId"), (path, method)
        assert operation.get("summary"), (path, method)
        # A success or, for downloads, the redirect to the presigned URL.
        success = [s for s in operation["responses"] if s.startswith(("2", "3"))]
        assert success, (path, method)
        for status in ("401", "403", "404", "422", "429", "500"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}
    assert openapi["components"]["schemas"]["Error"]["required"] == ["error"]


def test_request_and_response_schemas_are_described(openapi):
    create_team = openapi["paths"]["/api/v1/teams/"]["post"]
    body = create_team["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/TeamIn"}
    created = create_team["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/TeamOut"}
    assert set(openapi["components"]["schemas"]["TeamOut"]["required"]) >= {"id", "name"}


def test_security_schemes_declared(openapi):
    schemes = openapi["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


def test_api_docs_page_served(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content
    # served from our own static files: no call to a third-party CDN
    assert b"cdn." not in response.content and b"unpkg" not in response.content
