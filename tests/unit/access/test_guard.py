"""The check before every handler: 401 without a principal, 403 without the role, 503 when Easy Auth is off."""

from __future__ import annotations

import base64
import json
import logging

import azure.functions as func
import pytest

from shared.access import guard
from shared.access.guard import acting_as, authorize, current_actor, serve
from shared.access.principal import FUNCTION_KEY_CALLER
from shared.access.roles import EDITOR, PUBLIC, READER
from shared.api.http import ApiError, json_response

EASY_AUTH_ON = {"WEBSITE_AUTH_ENABLED": "True"}
EASY_AUTH_OFF = {"WEBSITE_AUTH_ENABLED": "False"}


def signed_in(*roles, oid="8a1d6b0e-4c3f-4b7a-9d2e-1f0c5a6b7c8d", name="alice@contoso.com"):
    claims = [{"typ": "oid", "val": oid}, {"typ": "name", "val": name}] + [{"typ": "roles", "val": r} for r in roles]
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps({"claims": claims}).encode()).decode()}


def refusal(headers, role, mode="entra", env=EASY_AUTH_ON) -> ApiError:
    with pytest.raises(ApiError) as caught:
        authorize(headers, role, mode=mode, env=env)
    return caught.value


def test_function_key_mode_lets_every_keyed_caller_do_everything():
    assert authorize(signed_in(), EDITOR, mode="functionKey", env=EASY_AUTH_OFF) is FUNCTION_KEY_CALLER
    assert FUNCTION_KEY_CALLER.actor() == {"id": None, "name": "function key"}


def test_entra_mode_without_a_principal_is_401_with_a_challenge():
    error = refusal({}, READER)
    assert (error.status, error.code) == (401, "Unauthenticated") and error.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_malformed_principal_is_401_not_500():
    error = refusal({"X-MS-CLIENT-PRINCIPAL": "!!"}, READER)
    assert (error.status, error.code) == (401, "InvalidPrincipal") and "base64" in error.message


def test_without_the_role_is_403_naming_it():
    error = refusal(signed_in(READER), EDITOR)
    assert (error.status, error.code) == (403, "Forbidden")
    assert "Scheduler.Editor" in error.message and error.details == [{"field": "role", "message": EDITOR}]


def test_with_the_role_the_caller_comes_back():
    caller = authorize(signed_in(EDITOR), READER, mode="entra", env=EASY_AUTH_ON)
    assert caller.name == "alice@contoso.com" and caller.holds(READER)


def test_a_forged_principal_is_refused_when_easy_auth_is_off(caplog):
    # Without App Service Authentication nothing strips a principal a client wrote itself.
    guard._last_logged[0] = float("-inf")
    with caplog.at_level(logging.ERROR, logger="shared.access"):
        error = refusal(signed_in(EDITOR), EDITOR, env=EASY_AUTH_OFF)
        refusal(signed_in(EDITOR), READER, env={})
    assert (error.status, error.code) == (503, "AuthenticationMisconfigured")
    assert "WEBSITE_AUTH_ENABLED" in error.message
    assert len([r for r in caplog.records if "refusing requests" in r.getMessage()]) == 1  # not once per request


def test_an_unknown_mode_refuses_everything_but_public_routes():
    assert refusal(signed_in(EDITOR), READER, mode=None).status == 503
    assert authorize({}, PUBLIC, mode=None, env=EASY_AUTH_OFF) is None


def test_public_routes_need_nothing_in_any_mode():
    assert authorize({}, PUBLIC, mode="entra", env=EASY_AUTH_OFF) is None


def test_serve_answers_refusals_in_the_error_envelope_and_runs_the_handler_as_the_caller(monkeypatch):
    monkeypatch.setattr(guard.modes, "MODE", "entra")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    req = func.HttpRequest("GET", "http://localhost/api/schedules", headers=signed_in(READER), body=b"")
    seen = []
    answer = serve(req, READER, lambda: seen.append(current_actor()) or json_response({}))
    assert answer.status_code == 200 and seen == [{"id": "8a1d6b0e-4c3f-4b7a-9d2e-1f0c5a6b7c8d",
                                                   "name": "alice@contoso.com"}]
    refused = serve(req, EDITOR, lambda: pytest.fail("the handler ran"))
    assert refused.status_code == 403 and json.loads(refused.get_body())["error"]["code"] == "Forbidden"
    assert current_actor() == {"id": None, "name": "unknown caller"}  # nothing left behind


def test_acting_as_nests_and_restores():
    with acting_as(FUNCTION_KEY_CALLER):
        assert current_actor()["name"] == "function key"
    assert current_actor()["name"] == "unknown caller"
