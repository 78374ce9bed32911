"""A fuzzing pass over the OpenAPI schema of `aigc serve` (schemathesis): no input makes the API fail with a 500,
and every response matches what the schema says. Bounded to a few dozen examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from aigc.cli.serve import create_app
from aigc.core.runner import run_job
from aigc.core.testing import submit

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(settings):
    """The schema of an app over a real store (SQLite, then PostgreSQL: NUL bytes and 32-bit ids differ)."""
    # Something to find: a finished image job (id 1) and a text job (id 2), so lookups hit real rows too.
    run_job(submit(settings, "toy", "generate", {"n": 3}), settings=settings)
    run_job(submit(settings, "chatter", "generate", {"prompt": "hi", "n": 1}), settings=settings)
    app = create_app(settings, check_host=False)  # schemathesis speaks as "testserver"; hosts are tested elsewhere
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_fails_and_keeps_to_its_schema(case):
    case.call_and_validate(checks=CHECKS)
