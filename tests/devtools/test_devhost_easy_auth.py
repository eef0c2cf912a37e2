"""The dev host playing Easy Auth: client-sent principals are dropped, the vouched-for one is added."""

from __future__ import annotations

import base64
import json

import pytest

from devtools.devhost import DevHostError
from devtools.devhost.easy_auth import DevPrincipal, EasyAuthStep, easy_auth_for, parse_principal
from devtools.devhost.pipeline import IncomingRequest
from shared.access.principal import from_headers
from tests.devtools.devhost_support import fixture_host, request

FORGED = base64.b64encode(json.dumps({"claims": [{"typ": "oid", "val": "x"},
                                                 {"typ": "roles", "val": "Scheduler.Editor"}]}).encode()).decode()


def incoming(*headers):
    return IncomingRequest("GET", "/api/whoami", list(headers), "127.0.0.1", lambda: b"")


def test_principal_specs():
    assert parse_principal("alice:Scheduler.Reader,Scheduler.Operator") == DevPrincipal(
        "alice", ("Scheduler.Reader", "Scheduler.Operator"))
    assert parse_principal("bob:") == DevPrincipal("bob", ())
    for bad in ("alice", ":Scheduler.Reader", "al ice:Scheduler.Reader", "alice:Scheduler Reader", "a:b,,c"):
        with pytest.raises(ValueError):
            parse_principal(bad)


def test_the_principal_is_what_the_app_reads_from_easy_auth():
    alice = DevPrincipal("alice@contoso.com", ("Scheduler.Reader",))
    seen = from_headers(dict(alice.headers()))
    assert (seen.id, seen.name, seen.roles) == (alice.object_id, "alice@contoso.com", {"Scheduler.Reader"})
    assert alice.object_id == DevPrincipal("alice@contoso.com", ()).object_id  # the same caller every run


def test_client_sent_principal_headers_are_dropped_whatever_their_case():
    req = incoming(("x-ms-client-principal", FORGED), ("X-MS-CLIENT-PRINCIPAL-NAME", "mallory"),
                   ("X-Ms-Client-Principal-Id", "x"), ("X-Other", "kept"))
    assert EasyAuthStep(None)(req) is None
    assert req.headers == [("X-Other", "kept")]


def test_a_request_may_sign_in_as_someone_else_and_the_dev_header_is_removed():
    step = EasyAuthStep(parse_principal("alice:Scheduler.Reader"))
    req = incoming(("X-MS-CLIENT-PRINCIPAL", FORGED), ("x-dev-principal", "bob:Scheduler.Operator"))
    step(req)
    assert req.header("X-Dev-Principal") is None
    assert from_headers(dict(req.headers)).name == "bob"
    assert from_headers(dict(req.headers)).roles == {"Scheduler.Operator"}
    req = incoming()
    step(req)
    assert from_headers(dict(req.headers)).name == "alice"


def test_a_malformed_local_sign_in_is_a_401_before_the_app():
    answer = EasyAuthStep(None)(incoming(("X-Dev-Principal", "not a principal")))
    assert answer.status == 401 and json.loads(answer.body)["error"]["code"] == "InvalidDevPrincipal"


def test_when_the_dev_host_plays_easy_auth():
    assert easy_auth_for({}) is None and easy_auth_for({"API_AUTH_MODE": "functionKey"}) is None
    assert easy_auth_for({"API_AUTH_MODE": "entra"}).default is None
    assert easy_auth_for({"API_AUTH_MODE": "Entra", "DEV_PRINCIPAL": "alice:Scheduler.Reader"}).default.name == "alice"
    # Told that authentication is off, it leaves the headers alone, as App Service would.
    assert easy_auth_for({"API_AUTH_MODE": "entra", "WEBSITE_AUTH_ENABLED": "False"}) is None
    with pytest.raises(DevHostError, match="API_AUTH_MODE"):
        easy_auth_for({"DEV_PRINCIPAL": "alice:Scheduler.Reader"})
    with pytest.raises(DevHostError, match="DEV_PRINCIPAL"):
        easy_auth_for({"API_AUTH_MODE": "entra", "DEV_PRINCIPAL": "alice"})


def test_the_running_host_strips_forged_principals_and_tells_the_app_authentication_is_on():
    env = {"API_AUTH_MODE": "entra", "DEV_PRINCIPAL": "alice:Scheduler.Reader"}
    with fixture_host(timers=False, env=env) as dev:
        status, _, body = request("GET", f"{dev.base_url}/whoami", headers={"X-MS-CLIENT-PRINCIPAL": FORGED,
                                                                           "X-MS-CLIENT-PRINCIPAL-NAME": "mallory"})
        seen = json.loads(body)
        assert status == 200 and seen["name"] == "alice" and seen["authEnabled"] == "True"
        assert {"typ": "roles", "val": "Scheduler.Reader"} in seen["principal"]["claims"]
        assert {"typ": "roles", "val": "Scheduler.Editor"} not in seen["principal"]["claims"]
        _, _, body = request("GET", f"{dev.base_url}/whoami", headers={"X-Dev-Principal": "bob:"})
        assert json.loads(body)["name"] == "bob" and json.loads(body)["devPrincipal"] is None


def test_with_easy_auth_off_the_host_passes_headers_through_as_app_service_would():
    env = {"API_AUTH_MODE": "entra", "WEBSITE_AUTH_ENABLED": "False"}
    with fixture_host(timers=False, env=env) as dev:
        _, _, body = request("GET", f"{dev.base_url}/whoami", headers={"X-MS-CLIENT-PRINCIPAL-NAME": "mallory"})
    assert json.loads(body)["name"] == "mallory" and json.loads(body)["authEnabled"] == "False"
