"""Entra mode through the dev host playing Easy Auth: every declared route refuses and admits by role,
forged principals get nowhere, and every write names its caller.

The stack here runs the app with API_AUTH_MODE=entra and no default principal, so each
request signs in (or not) with the dev host's X-Dev-Principal header. The route matrix is
read from the route declarations: a route added later is tried without anyone adding it.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import time
import uuid

import pytest

from devtools.processes import free_port, spawn_in_own_session, stop_process_group, wait_for_port
from shared.access.roles import PUBLIC, READER, ROLES
from shared.blueprints import DECLARED
from tests.e2e.conftest import PIPELINE_ID, REPO_ROOT, Client

pytestmark = pytest.mark.e2e

# Values for route parameters that pass their format checks and name nothing that exists.
PROBE_VALUES = {"id": "probe-missing", "name": "probe-missing", "runId": "probe_run", "pipelineId": str(uuid.uuid4())}
FORGED_EDITOR = base64.b64encode(json.dumps({"claims": [
    {"typ": "oid", "val": "00000000-0000-0000-0000-00000000beef"}, {"typ": "name", "val": "mallory"},
    {"typ": "roles", "val": "Scheduler.Editor"}]}).encode()).decode()


@pytest.fixture(scope="module")
def api(entra_stack):
    client = Client(entra_stack.dev_host_url)

    def call(method, path, body=None, *, who=None, headers=None):
        signed = {"X-Dev-Principal": who} if who is not None else {}
        return client(method, path, body, headers={**signed, **(headers or {})})
    return call


def concrete(route: str) -> str:
    if route.startswith("pipeline-endpoints/") or route.startswith("pipelines/"):
        return re.sub(r"{[^}]+}", PROBE_VALUES["pipelineId"], route)
    if route.startswith("operations/"):
        return route.replace("{id}", "aprobe")
    return re.sub(r"{([^}]+)}", lambda m: PROBE_VALUES[m.group(1)], route)


@pytest.mark.parametrize("access", sorted(DECLARED.values(), key=lambda r: r.function), ids=lambda r: r.function)
def test_every_route_by_role(api, access):
    method, path = access.methods[0], concrete(access.route)
    if access.role == PUBLIC:
        assert api(method, path)[0] not in (401, 403)
        return
    status, body = api(method, path)
    assert (status, body["error"]["code"]) == (401, "Unauthenticated"), (path, body)
    others = ",".join(role for role in ROLES if role != access.role) if access.role != READER else ""
    status, body = api(method, path, who=f"matrix:{others}")
    assert status == 403 and body["error"]["details"] == [{"field": "role", "message": access.role}], (path, body)
    status, body = api(method, path, who=f"matrix:{access.role}")
    assert status not in (401, 403, 500, 503), (path, status, body)


def test_a_forged_principal_is_dropped_by_easy_auth(api):
    status, body = api("GET", "schedules", headers={"X-MS-CLIENT-PRINCIPAL": FORGED_EDITOR})
    assert (status, body["error"]["code"]) == (401, "Unauthenticated")
    status, _ = api("POST", "schedules", {"id": "forged"}, who="reader:Scheduler.Reader",
                    headers={"X-MS-CLIENT-PRINCIPAL": FORGED_EDITOR})
    assert status == 403


def test_create_two_changes_and_a_disable_show_in_the_history_with_who_and_when(api, entra_stack):
    schedule_id = f"audited-{uuid.uuid4().hex[:6]}"
    alice, bob = "alice@contoso.com:Scheduler.Editor", "bob@contoso.com:Scheduler.Operator"
    started = time.time()
    status, created = api("POST", "schedules?validate=false", {
        "id": schedule_id, "trigger": {"cron": "0 30 2 * * *", "timeZone": "Europe/Berlin"},
        "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": "audited"}}, who=alice)
    assert status == 201 and created["createdBy"]["name"] == "alice@contoso.com"
    assert api("PATCH", f"schedules/{schedule_id}?validate=false", {"trigger": {"cron": "0 45 2 * * *"}},
               who=alice)[0] == 200
    assert api("PATCH", f"schedules/{schedule_id}", {"description": "scores the night's orders"}, who=alice)[0] == 200
    status, disabled = api("POST", f"schedules/{schedule_id}/disable", who=bob)
    assert status == 200 and disabled["updatedBy"]["name"] == "bob@contoso.com"
    assert api("POST", f"schedules/{schedule_id}/disable", who="carol:Scheduler.Reader")[0] == 403

    status, page = api("GET", f"schedules/{schedule_id}/history", who="carol:Scheduler.Reader")
    assert status == 200
    entries = page["value"]
    assert [e["action"] for e in entries] == ["disable", "update", "update", "create"]
    assert [e["actor"]["name"] for e in entries] == ["bob@contoso.com"] + ["alice@contoso.com"] * 3
    assert all(re.fullmatch(r"[0-9a-f-]{36}", e["actor"]["id"]) for e in entries)
    assert entries[0]["actor"]["id"] != entries[1]["actor"]["id"]
    times = [e["at"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert all(started - 5 <= _epoch(t) <= time.time() + 5 for t in times)
    assert entries[0]["changes"] == [{"field": "enabled", "before": True, "after": False}]
    assert entries[1]["changes"] == [{"field": "description", "before": "", "after": "scores the night's orders"}]
    assert entries[2]["changes"] == [{"field": "trigger.cron", "before": "0 30 2 * * *", "after": "0 45 2 * * *"}]


def test_every_write_leaves_an_audit_line_naming_its_caller(api, entra_stack):
    name = f"probe-{uuid.uuid4().hex[:6]}"
    status, _ = api("POST", f"computes/{name}/start", who="ops@contoso.com:Compute.Admin")
    assert status == 404  # AML has no such compute; the write was still attempted, and is logged
    status, _ = api("POST", f"schedules/{name}/trigger", who="ops@contoso.com:Scheduler.Operator")
    assert status == 404
    log = entra_stack.log_paths["devhost"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = [json.loads(line.split("audit ", 1)[1]) for line in log.read_text().splitlines()
                  if " audit {" in line or line.startswith("audit {")]
        mine = [e for e in events if name in e["target"]]
        if len(mine) == 2:
            break
        time.sleep(0.1)
    assert {(e["action"], e["status"], e["actorName"]) for e in mine} == {
        ("computes_start", 404, "ops@contoso.com"), ("schedules_trigger", 404, "ops@contoso.com")}


def test_without_easy_auth_in_front_the_app_refuses_to_serve(entra_stack, tmp_path):
    # The same app and settings, but App Service says authentication is off: a client could
    # then write its own principal, so nothing but health is served.
    port = free_port()
    env = {**entra_stack.env, "WEBSITE_AUTH_ENABLED": "False"}
    proc, _ = spawn_in_own_session([sys.executable, "-m", "devtools.devhost", "--app-dir",
                                    str(REPO_ROOT), "--port", str(port), "--no-timers", "--no-queues"],
                                   log_path=tmp_path / "devhost-auth-off.log", env=env, cwd=REPO_ROOT)
    try:
        wait_for_port("127.0.0.1", port, 30, proc=proc)
        client = Client(f"http://127.0.0.1:{port}/api")
        status, body = client("GET", "schedules", headers={"X-MS-CLIENT-PRINCIPAL": FORGED_EDITOR})
        assert (status, body["error"]["code"]) == (503, "AuthenticationMisconfigured")
        assert "WEBSITE_AUTH_ENABLED" in body["error"]["message"]
        status, health = client("GET", "health")
        problems = {p["setting"]: p["message"] for p in health["checks"]["settings"].get("problems", [])}
        assert status == 503 and "App Service Authentication is off" in problems["API_AUTH_MODE"]
    finally:
        stop_process_group(proc)
    assert "refusing requests" in (tmp_path / "devhost-auth-off.log").read_text()


def _epoch(instant: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp()
