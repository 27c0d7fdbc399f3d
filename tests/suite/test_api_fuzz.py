"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis), with
every check on: no operation answers a 500, every status and body is the one the document
declares (errors in the uniform shape), schema-valid input is accepted and invalid input
(a body that is not an object, an unknown field...) refused.

In process and on few cases per operation, so the default suite stays fast; the run over a
real server, with thousands of cases and seeded objects, is ``bench/api_fuzz.py`` (same
settings: ``bench/api_fuzz.toml``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from tests.factories import UserFactory

CONFIG = Path(__file__).resolve().parents[2] / "bench" / "api_fuzz.toml"
#: Revoking the token the cases authenticate with would turn the next ones into 401s.
EXCLUDED = {"suite_identity_api_token_revoke"}
EXAMPLES = 12


@pytest.fixture
def bearer(db, token_for):
    return {"Authorization": f"Bearer {token_for(UserFactory())}"}


@pytest.fixture
def api_schema(db, bearer):
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    # As Django's test client does: keep the test's transaction open across requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    config = SchemathesisConfig.from_path(CONFIG)
    # The credentials, as `schemathesis run -H` gives them: sent with every case, never fuzzed.
    config.projects.default.update(headers=bearer)
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application(), config=config)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def exercise(operation, mode, failures):
    """``EXAMPLES`` cases of ``operation`` in ``mode``, each called and checked."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None)
    def run(case):
        try:
            response = case.call_and_validate()
        except AssertionError as failure:  # schemathesis' failed checks
            failures.append(f"{case.method} {case.formatted_path} ({mode.value}): {failure}")
            return
        if response.status_code >= 400:
            body = json.loads(response.text)
            if set(body) != {"error"} or set(body["error"]) != {"code", "message", "details"}:
                failures.append(f"{case.method} {case.formatted_path}: bad error shape {body}")

    try:
        run()
    except Unsatisfiable:
        # Nothing to break: every parameter takes any value (a list with no filter).
        assert mode is GenerationMode.NEGATIVE, operation.label


def test_no_operation_fails_any_check(api_schema, s3_settings):
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    operations = [op for op in operations if op.definition.raw.get("operationId") not in EXCLUDED]
    assert len(operations) >= 90
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            exercise(operation, mode, failures)
    assert failures == [], "\n\n".join(failures[:10])
