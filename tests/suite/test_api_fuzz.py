"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis):
whatever the input, no operation answers a 500, and every error has the uniform shape."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.factories import UserFactory


@pytest.fixture
def api_schema(db):
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    # As Django's test client does: keep the test's transaction open across requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db, token_for):
    return {"Authorization": f"Bearer {token_for(UserFactory())}"}


def test_no_operation_fails_on_any_input(api_schema, bearer):
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def exercise(case):
            response = case.call(headers=bearer)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
                return
            if response.status_code >= 400:
                body = json.loads(response.text)
                if set(body) != {"error"} or not {"code", "message", "details"} <= set(body["error"]):
                    failures.append(f"{case.method} {case.formatted_path}: bad error shape {body}")

        exercise()
    assert failures == []
