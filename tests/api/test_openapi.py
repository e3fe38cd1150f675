"""The OpenAPI schema (/api/v1/openapi.json) documents what the API really
does: every error status in the one error model, the constraints of every
parameter (ranges, lengths, enums, the Idempotency-Key header), and real
response models — schemathesis (test_schema_fuzz.py) holds the API to it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from shanzhi.core.input import MAX_ID, MAX_OFFSET
from shanzhi.incidents.services import MAX_IDEMPOTENCY_KEY
from tests.incidents.conftest import report

ERROR = {"$ref": "#/components/schemas/ErrorOut"}


@pytest.fixture
def schema(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def parameter(operation, name):
    (found,) = [p for p in operation["parameters"] if p["name"] == name]
    return found


def test_every_operation_documents_400_and_401_in_the_one_error_model(schema):
    for label, operation in operations(schema):
        responses = operation["responses"]
        assert "400" in responses, label
        if operation.get("security"):
            assert "401" in responses, label
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == ERROR, (
                    label, status)


def test_the_error_model_is_code_message_field_and_details(schema):
    body = schema["components"]["schemas"]["ErrorBody"]
    assert set(body["properties"]) == {"code", "message", "field", "details"}
    assert set(body["required"]) == {"code", "message", "field"}


@pytest.mark.parametrize(("label", "statuses"), [
    ("POST /api/v1/incidents", {"200", "201", "400", "401", "403", "413", "422"}),
    ("GET /api/v1/incidents/{incident_id}", {"200", "400", "401", "404"}),
    ("POST /api/v1/incidents/{incident_id}/{action}",
     {"200", "400", "401", "403", "404", "409", "413"}),
    ("POST /api/v1/intake/devices/{device_id}/alerts",
     {"200", "201", "400", "401", "404", "413", "422"}),
    ("GET /api/v1/geo/regions/{code}/grids.geojson", {"200", "304", "400", "401", "404"}),
])
def test_each_operation_lists_the_statuses_it_answers(schema, label, statuses):
    assert set(dict(operations(schema))[label]["responses"]) >= statuses


def test_the_constraints_of_the_parameters_are_in_the_schema(schema):
    ops = dict(operations(schema))
    listing = ops["GET /api/v1/incidents"]
    limit = parameter(listing, "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 500)
    assert parameter(listing, "offset")["schema"]["maximum"] == MAX_OFFSET
    assert parameter(listing, "light")["schema"]["enum"] == ["", "green", "yellow", "red"]
    report = ops["POST /api/v1/incidents"]
    key = parameter(report, "Idempotency-Key")
    assert key["in"] == "header"
    assert key["schema"]["anyOf"][0]["maxLength"] == MAX_IDEMPOTENCY_KEY
    action = ops["POST /api/v1/incidents/{incident_id}/{action}"]
    assert "dispatch" in parameter(action, "action")["schema"]["enum"]
    attachment = ops["GET /api/v1/incidents/{incident_id}/attachments/{attachment_id}"]
    assert parameter(attachment, "attachment_id")["schema"]["maximum"] == MAX_ID
    due = ops["GET /api/v1/calendar/due"]
    assert all(parameter(due, name)["required"] for name in ("start", "amount", "unit"))
    assert parameter(due, "unit")["schema"]["enum"] == [
        "working_days", "working_hours", "natural_hours"]
    body = report["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["description"]["maxLength"] == 4000
    assert body["additionalProperties"] is False


def test_the_incident_answers_have_real_models(schema):
    ops = dict(operations(schema))
    for label in ("POST /api/v1/incidents", "GET /api/v1/incidents/{incident_id}"):
        ok = ops[label]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/IncidentDetailOut"}
    page = schema["components"]["schemas"]["IncidentPage"]
    assert page["properties"]["items"]["items"] == {"$ref": "#/components/schemas/IncidentOut"}


def test_a_report_links_to_what_may_be_done_next(schema):
    created = dict(operations(schema))["POST /api/v1/incidents"]["responses"]["201"]
    assert set(created["links"]) == {"GetIncident", "GetTimeline", "TakeAction"}


def test_the_command_centres_summary_answers_as_its_model_says(api, cast, schema):
    report(cast)
    with time_machine.travel(timezone.now() + dt.timedelta(days=30), tick=False):
        summary = api.get(cast.town_operator, "/api/v1/command/summary")
    (late,) = summary["overdue"]
    assert set(late) == {"number", "state", "state_label", "due_at", "overdue_hours", "category",
                         "region", "with"}
    model = schema["components"]["schemas"]["OverdueOut"]
    assert set(model["properties"]) == set(late)
    assert summary["areas"]["kind"] in ("region", "grid")


def test_no_two_models_share_a_schema_name():
    """The document names each schema by its class: two models of one name
    but different fields would publish one of them for both (the other's
    endpoints documented wrongly, and fuzzed against the wrong shape)."""
    from pydantic import BaseModel

    import shanzhi.api.main  # noqa: F401  (every router's models imported)

    shapes: dict[str, set] = {}
    stack = [BaseModel]
    while stack:
        for model in stack.pop().__subclasses__():
            stack.append(model)
            if model.__module__.startswith("shanzhi."):
                fields = tuple(sorted((name, str(field.annotation))
                                      for name, field in model.model_fields.items()))
                shapes.setdefault(model.__name__, set()).add(fields)
    clashes = sorted(name for name, variants in shapes.items() if len(variants) > 1)
    assert clashes == []
