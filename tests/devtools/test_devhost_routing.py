"""Route templates and path decoding, on their own and as the served fixture app sees them."""

from __future__ import annotations

import json

import pytest

from devtools.devhost import DevHostError, RouteTemplate, decode_segment
from tests.devtools.devhost_support import fixture_host, request


@pytest.fixture(scope="module")
def host():
    with fixture_host(timers=False) as dev:
        yield dev


def test_route_templates():
    assert RouteTemplate("items/{id}").match_path("items/42") == {"id": "42"}
    assert RouteTemplate("items/{id}").match_path("ITEMS/42/") == {"id": "42"}
    assert RouteTemplate("items/{id}").match_path("items/4/2") is None
    assert RouteTemplate("items/{id}").match_path("items") is None
    assert RouteTemplate("items/{id?}").match_path("items") == {}
    assert RouteTemplate("items/{id=7}").match_path("items") == {"id": "7"}
    assert RouteTemplate("items/{id:int}").match_path("items/x") is None
    assert RouteTemplate("items/{id:int:min(1)}").match_path("items/5") == {"id": "5"}
    assert RouteTemplate("items/{id:regex(^a+$)}").match_path("items/aaa") == {"id": "aaa"}
    assert RouteTemplate("{*rest}").match_path("a/b%2Fc") == {"rest": "a/b%2Fc"}
    assert RouteTemplate("files/{name}.{ext}").match_path("files/a.b.txt") == {
        "name": "a",
        "ext": "b.txt",
    }
    assert decode_segment("caf%C3%A9+%2f") == "café+%2f"
    with pytest.raises(DevHostError):
        RouteTemplate("{*rest}/tail")
    with pytest.raises(DevHostError):
        RouteTemplate("items/{id:nosuch}")


def test_more_specific_routes_win():
    templates = [RouteTemplate(t) for t in ("x/{*rest}", "x/{id}", "x/{id:int}", "x/new")]
    ordered = sorted(templates, key=lambda t: t.precedence)
    assert [t.template for t in ordered] == ["x/new", "x/{id:int}", "x/{id}", "x/{*rest}"]


def test_route_less_function_is_served_under_its_name(host):
    status, _, body = request("GET", f"{host.base_url}/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    # Literal segments, the prefix included, match case-insensitively like the host.
    assert request("GET", f"{host.root_url}/API/Health")[0] == 200


def test_encoded_slash_stays_inside_its_segment(host):
    status, _, body = request("GET", f"{host.base_url}/items/a%2Fb%20c")
    assert status == 200
    # Like Kestrel under `func start`: other escapes are decoded, %2F is kept as sent.
    assert json.loads(body)["route_params"] == {"id": "a%2Fb c"}
    assert request("GET", f"{host.base_url}/items/a/b")[0] == 404


def test_catch_all_and_optional_parameters(host):
    status, _, body = request("GET", f"{host.base_url}/files/a/b%20c/d")
    assert (status, json.loads(body)["route_params"]) == (200, {"path": "a/b c/d"})
    status, _, body = request("GET", f"{host.base_url}/files")
    assert (status, json.loads(body)["route_params"]) == (200, {})
    status, headers, body = request("GET", f"{host.base_url}/greeting")
    assert (status, body) == (200, b"from-env, world")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert request("GET", f"{host.base_url}/greeting/bob")[2] == b"from-env, bob"
