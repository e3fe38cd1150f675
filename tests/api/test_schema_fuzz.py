"""The API keeps the promises of its OpenAPI schema under schemathesis: every
operation in-process (Django's WSGI application, no server), as an operator
of the west district with a bearer token and once more without credentials;
the examples, coverage and fuzzing phases per operation, then the stateful
phase that follows the schema's links (report → read, timeline, act).

Checks: no server error, every status code, content type and response body
documented, documented headers present, invalid data refused, valid data not
refused for a reason the schema does not state, unsupported methods answered
405, authentication not ignored. Bounded for CI (a few examples per operation,
no deadline) and reproducible: ``derandomize=True`` gives every run the same
cases, so a failure seen in CI fails the same way on a laptop."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck
from schemathesis import checks as generic
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as openapi

from shanzhi.accounts.services import token_create
from shanzhi.incidents import services
from tests.incidents.conftest import WEST_POINT

SCHEMA_URL = "/api/v1/openapi.json"
#: Bodies as sent, not gzipped (the in-process client does not decompress).
PLAIN = {"Accept-Encoding": "identity"}
#: The live feed is an endless Server-Sent Events stream (and not in the schema).
EXCLUDED = r"^/api/v1/feed"

CHECKS = [
    generic.not_a_server_error,
    openapi.status_code_conformance,
    openapi.content_type_conformance,
    openapi.response_schema_conformance,
    openapi.response_headers_conformance,
    openapi.negative_data_rejection,
    openapi.missing_required_header,
    openapi.unsupported_method,
    openapi.ignored_auth,
]
#: Deterministic and bounded: the same cases on every run, no time limit per case
#: (the machine is shared and slow; a timing is not what this test checks).
#: ``function_scoped_fixture``: the personas and the territory are made once per
#: operation, and every example of it may use (and add to) the same data, as
#: requests do in production. ``too_slow``/``filter_too_much``: some bodies
#: (multipart forms, enums inside patterns) take the generator longer than
#: Hypothesis likes; that is a cost of generation, not a failure of the API.
SETTINGS = hypothesis.settings(
    max_examples=60, deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much],
)
STATEFUL = hypothesis.settings(SETTINGS, max_examples=30, stateful_step_count=10)


#: Every phase, valid and invalid data alike.
CONFIG = SchemathesisConfig.from_dict({
    "generation": {"mode": "all"},
    "phases": {name: {"enabled": True}
               for name in ("examples", "coverage", "fuzzing", "stateful")},
})


def load() -> schemathesis.schemas.BaseSchema:
    """The schema as the API serves it, called in-process through Django's
    WSGI application."""
    served = Client(SERVER_NAME="localhost").get(SCHEMA_URL)
    assert served.status_code == 200, served.content
    loaded = schemathesis.openapi.from_dict(served.json(), config=CONFIG).exclude(
        path_regex=EXCLUDED)
    loaded.app = get_wsgi_application()
    return loaded


schema = load()


@pytest.fixture(autouse=True)
def _one_connection_per_test():
    """As Django's test client does: a request does not close the database
    connection that holds the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def operator(cast):
    """The west district's operator and a camera of the west, as requests find them."""
    services.device_create(device_id="cam-0001", name="西街道路口摄像头", channel="video",
                           category="SJ0102", **WEST_POINT)
    return {"Authorization": f"Bearer {token_create(username=cast.west_operator.username)}",
            **PLAIN}


@schema.parametrize()
@SETTINGS
def test_every_operation_keeps_its_schema_for_an_operator(case, operator):
    case.call_and_validate(headers=operator, checks=CHECKS)


@schema.parametrize()
@hypothesis.settings(SETTINGS, max_examples=10)
def test_every_operation_keeps_its_schema_without_credentials(case, cast):
    case.call_and_validate(headers=PLAIN,
                           checks=[c for c in CHECKS if c is not openapi.ignored_auth])


def realistic_report(body: dict) -> None:
    """A generated report, placed where the operator serves and sent through a
    channel an operator may use (a random point lies outside the city, and
    then no report is ever created for the next steps to act on)."""
    for name in ("category", "extra", "region", "reported_at", "urgency"):
        body.pop(name, None)
    body.update(channel="hotline_12345", crs="wgs84", **WEST_POINT)
    if not str(body.get("description", "")).strip():
        body["description"] = "路边有暴露垃圾"


#: In the stateful phase ``ignored_auth`` would re-send a step with the state
#: machine's own (valid) token; the per-operation test above checks it.
STATEFUL_CHECKS = [c for c in CHECKS if c is not openapi.ignored_auth] + [
    openapi.use_after_free, openapi.ensure_resource_availability]


def test_the_stateful_phase_follows_the_links_from_a_report(operator):
    # the incidents' operations only: the links lead from a report to them, and
    # the other routers' operations would take the walk's steps elsewhere
    machine = schema.include(path_regex=r"^/api/v1/incidents").as_state_machine()
    called: list[tuple[str, int]] = []

    class Workflow(machine):  # type: ignore[misc, valid-type]
        """Each scenario starts from the same database (a savepoint rolled
        back after it), so that Hypothesis replays a scenario as it ran."""

        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case):
            return {"headers": operator}

        def before_call(self, case):
            if (case.method, case.operation.path) == ("POST", "/api/v1/incidents") and \
                    isinstance(case.body, dict) and case.meta is not None and \
                    case.meta.generation.mode == GenerationMode.POSITIVE:
                realistic_report(case.body)

        def after_call(self, response, case):
            called.append((f"{case.method} {case.operation.path}", response.status_code))

        def validate_response(self, response, case, **kwargs):
            case.validate_response(response, checks=STATEFUL_CHECKS, headers=operator)

    Workflow.run(settings=STATEFUL)
    linked = {label for label, status in called if "{incident_id}" in label and status < 300}
    assert linked, f"no linked step reached an incident: {sorted(set(called))}"
