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
        for status in ("400", "401", "403", "404", "414", "422", "429", "500"):
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


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/api/v1/drive/items/", {"409", "413", "423", "503", "507"}),
        ("post", "/api/v1/documents/{document_id}/accesses/", {"409"}),
        ("post", "/api/v1/drive/links/{token}/", {"401", "403", "410"}),
        ("post", "/api/v1/teams/{team_id}/members/", {"409"}),
        ("post", "/api/v1/documents/{document_id}/restore", {"409"}),
    ],
)
def test_operations_declare_the_errors_they_answer(openapi, method, path, statuses):
    """Found by a review: 409, 413, 423... were answered but not in the document."""
    responses = openapi["paths"][path][method]["responses"]
    assert statuses <= set(responses)
    for status in statuses:
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


def test_a_read_declares_no_write_error(openapi):
    assert not {"409", "413", "423", "507"} & set(openapi["paths"]["/api/v1/users/me"]["get"]["responses"])


def test_limits_the_handlers_enforce_are_declared(openapi):
    search = openapi["paths"]["/api/v1/users/"]["get"]["parameters"][0]
    assert search["name"] == "q" and search["schema"]["pattern"]
    schemas = openapi["components"]["schemas"]
    assert schemas["TeamIn"]["properties"]["name"]["pattern"]
    assert schemas["TokenIn"]["properties"]["expires_in_days"]["maximum"] == 366
    assert schemas["TeamMemberIn"]["properties"]["role"]["enum"] == ["member", "administrator"]
    assert "Europe/Paris" in schemas["MeUpdateIn"]["properties"]["timezone"]["enum"]
    parts = schemas["PartUrlsIn"]["properties"]["parts"]
    assert parts["items"] == {"type": "integer", "minimum": 1, "maximum": 10_000}


def test_two_schemas_of_one_name_cannot_share_the_document():
    """A drive and a document ``VersionIn`` once shared one component: the documents'
    operation pointed at the drive's fields."""
    from django.core.exceptions import ImproperlyConfigured
    from ninja import Router

    from suite.api import SuiteAPI, register_router
    from suite.schemas import InputSchema

    api = SuiteAPI(urls_namespace="openapi-names")
    for prefix, field in (("/first/", "name"), ("/second/", "size")):
        schema = type("VersionIn", (InputSchema,), {"__annotations__": {field: str}, "__module__": __name__})

        def create(request, payload):
            return {}

        create.__annotations__ = {"payload": schema}
        router = Router()
        router.post("/", operation_id=f"create_{field}")(create)
        register_router(api, prefix, router, scope_area="account")
    with pytest.raises(ImproperlyConfigured, match="two different schemas are named VersionIn"):
        api.get_openapi_schema(path_prefix="/")


def test_error_statuses_need_a_description():
    from suite.openapi import error_statuses

    with pytest.raises(ValueError, match="418"):
        error_statuses(418)
