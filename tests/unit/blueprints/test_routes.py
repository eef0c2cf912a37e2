"""Every HTTP route names its app role where it is declared, and the check follows the declaration.

The matrix below is derived from the declarations (`shared.blueprints.DECLARED`), so a
route added later is in it without anyone remembering to add it.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import azure.functions as func
import pytest

from shared.access import guard
from shared.access.roles import PUBLIC, READER, ROLES
from shared.api.http import ApiError
from shared import blueprints
from shared.blueprints import DECLARED, SchedulerApp
from shared.blueprints.routes import ApiBlueprint, auth_level

REPO_ROOT = Path(__file__).resolve().parents[3]
ROUTES = sorted(DECLARED.values(), key=lambda r: r.function)


def signed_in(*roles):
    claims = [{"typ": "oid", "val": "0c1b2a39-4857-4d6c-8b9a-0f1e2d3c4b5a"}, {"typ": "name", "val": "matrix"}]
    claims += [{"typ": "roles", "val": role} for role in roles]
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps({"claims": claims}).encode()).decode()}


def registered(access):
    """The function the worker would call for a declaration (the blueprint module's FunctionBuilder)."""
    for module in pkgutil.iter_modules(blueprints.__path__):
        found = getattr(importlib.import_module(f"shared.blueprints.{module.name}"), access.function, None)
        if found is not None:
            return found
    raise AssertionError(f"{access.function} is declared but defined in no blueprint")


def call(access, headers):
    path = "/api/" + access.route
    req = func.HttpRequest(access.methods[0], "http://localhost" + path, headers=headers, body=b"")
    answer = registered(access)(req)
    if not (answer.mimetype or "").endswith("json"):
        return answer.status_code, answer.get_body()  # the console's page and assets
    return answer.status_code, json.loads(answer.get_body() or b"null")


@pytest.fixture
def entra(monkeypatch):
    monkeypatch.setattr(guard.modes, "MODE", "entra")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")


def test_only_health_and_the_consoles_static_files_are_public():
    # The console's page and assets hold no data (the page reads the API as its caller).
    assert sorted(r.function for r in ROUTES if r.role == PUBLIC) == ["console_asset", "console_page", "health"]
    assert {r.role for r in ROUTES} - {PUBLIC} == set(ROLES)


@pytest.mark.parametrize("access", [r for r in ROUTES if r.role != PUBLIC], ids=lambda r: r.function)
def test_each_route_refuses_callers_without_a_principal_or_without_its_role(entra, access):
    status, body = call(access, {})
    assert (status, body["error"]["code"]) == (401, "Unauthenticated")
    # Every other role together still is not this one (Reader routes: a principal with no role).
    others = [role for role in ROLES if role != access.role] if access.role != READER else []
    status, body = call(access, signed_in(*others))
    assert status == 403 and body["error"]["details"] == [{"field": "role", "message": access.role}]
    assert guard.authorize(signed_in(access.role), access.role).roles == {access.role}


def test_the_public_route_answers_without_a_principal(entra, monkeypatch):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "False")  # even with Easy Auth off
    for public in [r for r in ROUTES if r.role == PUBLIC]:
        status, _ = call(public, {})
        assert status not in (401, 403), public.function


def test_a_route_without_a_role_does_not_import():
    bp = ApiBlueprint()
    with pytest.raises(TypeError):
        bp.route("x", methods=["GET"])  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unknown role"):
        bp.route("x", methods=["GET"], role="Scheduler.Admin")


def test_indexing_refuses_an_http_function_declared_without_a_role():
    app, plain = SchedulerApp(), func.Blueprint()

    @plain.route(route="console", methods=["GET"])
    def console_page(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("")

    app.register_blueprint(plain)
    with pytest.raises(ValueError, match="console_page"):
        app.get_functions()


def test_auth_level_follows_role_and_mode():
    assert auth_level(PUBLIC, "functionKey") == auth_level(PUBLIC, "entra") == func.AuthLevel.ANONYMOUS
    assert auth_level(READER, "functionKey") == func.AuthLevel.FUNCTION
    assert auth_level(READER, "entra") == func.AuthLevel.ANONYMOUS  # Easy Auth is in front; no key as well
    assert auth_level(READER, None) == func.AuthLevel.FUNCTION  # an unknown mode keeps the keys


def _levels(mode: str | None) -> dict:
    probe = ("import json, function_app\n"
             "print(json.dumps({f.get_function_name(): str(getattr(f.get_trigger().auth_level, 'name', None))\n"
             "    for f in function_app.app.get_functions() if f.get_trigger().type == 'httpTrigger'}))\n")
    env = {k: v for k, v in os.environ.items() if k != "API_AUTH_MODE"}
    if mode is not None:
        env["API_AUTH_MODE"] = mode
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_published_auth_levels_per_mode():
    keyed, entra, unknown = _levels(None), _levels("entra"), _levels("entr")
    assert set(keyed) == set(entra) == {r.function for r in ROUTES}
    assert {n for n, level in keyed.items() if level == "ANONYMOUS"} == {"health", "console_page", "console_asset"}
    assert set(entra.values()) == {"ANONYMOUS"}
    assert unknown == keyed


def test_every_write_that_passes_the_check_leaves_one_audit_line_naming_the_caller(entra, caplog):
    from shared.access.roles import EDITOR
    from shared.api.http import json_response
    from shared.blueprints.routes import RouteAccess, _guarded

    # Not registered on a blueprint, so the route table stays the app's own.
    put = _guarded(lambda req: json_response({}, 201), RouteAccess("things_put", "things/{id}", ("PUT",), EDITOR))
    get = _guarded(lambda req: json_response({}), RouteAccess("things_get", "things/{id}", ("GET",), READER))

    def request(method, headers):
        return func.HttpRequest(method, "http://localhost/api/things/1?code=a-function-key", headers=headers, body=b"")

    with caplog.at_level("INFO"):
        assert put(request("PUT", signed_in(EDITOR))).status_code == 201
        assert get(request("GET", signed_in(READER))).status_code == 200
        assert put(request("PUT", signed_in(READER))).status_code == 403
    lines = [r for r in caplog.records if r.name == "shared.api.audit"]
    assert len(lines) == 1 and lines[0].getMessage().startswith("audit ")
    event = json.loads(lines[0].getMessage()[len("audit "):])
    assert event == {"event": "audit", "action": "things_put", "target": "/api/things/1", "method": "PUT",
                     "status": 201, "actorId": "0c1b2a39-4857-4d6c-8b9a-0f1e2d3c4b5a", "actorName": "matrix"}
    assert lines[0].customDimensions == event and "a-function-key" not in caplog.text
    denied = [r.getMessage() for r in caplog.records if r.name == "shared.access"]
    assert denied == ["access denied: matrix (0c1b2a39-4857-4d6c-8b9a-0f1e2d3c4b5a) lacks Scheduler.Editor for PUT "
                      "/api/things/1"]
