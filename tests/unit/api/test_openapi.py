"""The OpenAPI document and the routes the app registers cannot drift apart."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared.api.openapi import document

REPO_ROOT = Path(__file__).resolve().parents[3]
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module")
def registered():
    # get_functions() may run once per FunctionApp, so it runs in its own process.
    probe = (
        "import json, function_app\n"
        "out = []\n"
        "for f in function_app.app.get_functions():\n"
        "    t = f.get_trigger()\n"
        "    if t.type == 'httpTrigger':\n"
        "        out.append([f.get_function_name(), t.route, sorted(str(getattr(m, 'value', m)) for m in t.methods),\n"
        "                    str(getattr(t.auth_level, 'value', t.auth_level))])\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_every_registered_route_is_documented_and_nothing_else(registered):
    doc = document()
    documented = {(path.lstrip("/"), method.upper(), op["operationId"]) for path, method, op in operations(doc)}
    actual = {(route, method.upper(), name) for name, route, methods, _auth in registered for method in methods}
    assert documented - actual == set(), "documented but not registered"
    assert actual - documented == set(), "registered but not documented"


def test_anonymous_routes_are_the_ones_documented_without_security(registered):
    doc = document()
    anonymous = {name for name, _route, _methods, auth in registered if auth.lower() == "anonymous"}
    unsecured = {op["operationId"] for _p, _m, op in operations(doc) if op.get("security") == []}
    # The console's page and assets hold no data: what they show comes from the keyed API.
    assert anonymous == unsecured == {"health", "console_page", "console_asset"}


def test_document_is_internally_consistent():
    doc = document()
    assert doc["openapi"].startswith("3.")
    schemas = doc["components"]["schemas"]
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert ref in schemas, ref
    ids = [op["operationId"] for _p, _m, op in operations(doc)]
    assert len(ids) == len(set(ids))
    for path, _method, op in operations(doc):
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", path)), (path, declared)
        assert op["responses"], path
        for code, response in op["responses"].items():
            assert re.fullmatch(r"[1-5][0-9][0-9]", code) and response["description"]


def test_served_document_matches():
    import azure.functions as func

    from shared.api import openapi

    response = openapi.serve(func.HttpRequest("GET", "http://localhost/api/openapi.json", body=b""))
    assert response.status_code == 200 and json.loads(response.get_body()) == document()


# -- the schemas say what the handlers accept and answer ----------------------------------

def validator(schema_name: str):
    import jsonschema_rs

    root = {"$ref": f"#/components/schemas/{schema_name}", "components": document()["components"]}
    return jsonschema_rs.Draft202012Validator(root)


CRON_SCHEDULE = {"id": "nightly", "trigger": {"cron": "0 30 2 * * *", "timeZone": "Europe/Berlin", "jitterSeconds": 30},
                 "target": {"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                            "experimentName": "batch_scoring", "parameterAssignments": {"day": "{{slot}}"}}}
RECURRENCE_SCHEDULE = {**CRON_SCHEDULE, "trigger": {
    "recurrence": {"frequency": "Week", "interval": 1, "weekDays": ["Monday"], "hours": [6], "minutes": 0},
    "timeZone": "Pacific Standard Time"}}


@pytest.mark.parametrize("doc", [CRON_SCHEDULE, RECURRENCE_SCHEDULE], ids=["cron", "recurrence"])
def test_schedule_answers_match_the_schedule_schema(doc):
    from tests.unit.api.test_schedules_api import Api

    api = Api()
    status, created, _ = api("create", "POST", body=doc)
    assert status == 201, created
    assert validator("ScheduleCreate").is_valid(doc)
    errors = [e.message for e in validator("Schedule").iter_errors(created)]
    assert errors == []


@pytest.mark.parametrize("trigger", [
    {"cron": "* * * * *", "recurrence": {"frequency": "Day", "interval": 1}},  # both
    {"timeZone": "UTC"},                                                        # neither
    {"recurrence": {"frequency": "Hour", "interval": 1, "hours": [1]}},         # hours are for Day, Week, Month
    {"cron": "* * * * *", "jitterSeconds": 3601},
])
def test_the_trigger_schema_refuses_what_the_app_refuses(trigger):
    from tests.unit.api.test_schedules_api import Api

    doc = {**CRON_SCHEDULE, "trigger": trigger}
    assert not validator("ScheduleCreate").is_valid(doc)
    assert Api()("create", "POST", body=doc)[0] == 400


def test_each_operation_names_the_role_its_route_declares():
    from shared.blueprints import DECLARED

    for _path, _method, op in operations(document()):
        access = DECLARED[op["operationId"]]
        if access.role == "public":
            assert "x-required-role" not in op and op["security"] == []
            continue
        assert op["x-required-role"] == access.role
        assert {"401", "403"} <= set(op["responses"]), op["operationId"]


def test_the_audit_history_answer_matches_its_schema():
    from shared.access.guard import acting_as
    from shared.access.principal import Principal
    from tests.unit.api.test_schedules_api import Api

    api = Api()
    with acting_as(Principal("8a1d6b0e-4c3f-4b7a-9d2e-1f0c5a6b7c8d", "alice", frozenset(), "entra")):
        api("create", "POST", body=CRON_SCHEDULE)
        api("patch", "PATCH", {"id": "nightly"}, body={"enabled": False})
    status, page, _ = api("history", "GET", {"id": "nightly"})
    assert status == 200 and sorted(e["action"] for e in page["value"]) == ["create", "update"]
    assert [e.message for e in validator("AuditPage").iter_errors(page)] == []
