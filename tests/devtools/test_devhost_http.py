"""The request pipeline as a client sees it: requests in, answers and errors out."""

from __future__ import annotations

import json
import logging

import pytest

from devtools.devhost import DevHost
from devtools.devhost.pipeline import json_error
from tests.devtools.devhost_support import FIXTURE_APP, fixture_host, raw_exchange, request, wait_for

# Methods no fixture route declares; the host routes every token, so none of them is a 501.
UNDECLARED_METHODS = ["TRACE", "CONNECT", "PROPFIND", "DELETE", "PATCH", "propfind", "FROB-NICATE"]


@pytest.fixture(scope="module")
def host():
    with fixture_host(timers=False) as dev:
        yield dev


def test_route_params_query_body_and_header(host):
    status, headers, body = request(
        "PUT",
        f"{host.base_url}/items/42?x=1&x=2&empty=",
        body=b"hello",
        headers={"X-Fixture": "hi"},
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "method": "PUT",
        "route_params": {"id": "42"},
        "params": {"x": "1", "empty": ""},
        "body": "hello",
        "header": "hi",
    }


def test_unknown_path_is_a_json_404(host):
    for url in (f"{host.base_url}/nope", f"{host.root_url}/other/health", f"{host.base_url}/items"):
        status, headers, body = request("GET", url)
        assert status == 404
        assert headers["Content-Type"].startswith("application/json")
        assert json.loads(body)["error"]["code"] == "NotFound"


def test_method_not_in_the_list_is_a_json_405(host):
    status, headers, body = request("POST", f"{host.base_url}/items/1", body=b"{}")
    assert status == 405
    assert headers["Allow"] == "GET, PUT"
    assert json.loads(body)["error"]["code"] == "MethodNotAllowed"
    # The connection must still be usable: the unread body was drained.
    assert request("GET", f"{host.base_url}/health")[0] == 200


@pytest.mark.parametrize("method", UNDECLARED_METHODS)
def test_any_method_token_on_a_matching_path_is_a_405_with_allow(host, method):
    head = f"{method} /api/items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
    status, headers, body = raw_exchange(host.port, head, b"{}")
    assert status == 405
    assert headers["allow"] == "GET, PUT"
    assert json.loads(body)["error"]["code"] == "MethodNotAllowed"


@pytest.mark.parametrize("method", UNDECLARED_METHODS + ["GET"])
def test_any_method_token_on_an_unmatched_path_is_a_404(host, method):
    head = f"{method} /api/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, _, body = raw_exchange(host.port, head)
    assert status == 404
    assert json.loads(body)["error"]["code"] == "NotFound"


def test_connect_to_an_authority_is_a_404(host):
    head = f"CONNECT 127.0.0.1:{host.port} HTTP/1.1\r\nHost: 127.0.0.1:{host.port}\r\n\r\n"
    assert raw_exchange(host.port, head)[0] == 404


def test_methods_compare_case_insensitively_like_the_host(host):
    head = "get /api/items/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, _, body = raw_exchange(host.port, head)
    assert status == 200
    assert json.loads(body)["method"] == "GET"


def test_a_method_that_is_not_a_token_is_a_400(host):
    head = "G{T /api/items/7 HTTP/1.1\r\nHost: x\r\n\r\n"
    status, headers, body = raw_exchange(host.port, head)
    assert status == 400
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["code"] == "BadRequest"


def test_exception_is_a_generic_500_and_a_logged_traceback(host, caplog):
    def request_lines():
        messages = [r.getMessage() for r in caplog.records]
        return [m for m in messages if m.startswith("GET /api/boom ")]

    with caplog.at_level(logging.INFO, logger="devhost"):
        status, _, body = request("GET", f"{host.base_url}/boom?code=topsecret")
        # The access line is written after the response has gone out.
        assert wait_for(request_lines, timeout=2)
    assert status == 500
    assert json.loads(body)["error"]["code"] == "InternalServerError"
    assert b"fixture secret detail" not in body
    failures = [r for r in caplog.records if r.exc_info]
    assert failures and "fixture secret detail" in str(failures[0].exc_info[1])
    assert request_lines()[0].startswith("GET /api/boom 500 ")
    assert not any("topsecret" in r.getMessage() for r in caplog.records)


def test_a_header_http_cannot_carry_is_a_500_not_a_dropped_connection(host, caplog):
    with caplog.at_level(logging.ERROR, logger="devhost"):
        status, headers, body = request("GET", f"{host.base_url}/bad-header")
    assert status == 500
    assert "X-Mark" not in headers
    assert json.loads(body)["error"]["code"] == "InternalServerError"
    assert any("X-Mark" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_request_steps_run_before_routing_and_may_answer(monkeypatch):
    monkeypatch.setenv("FIXTURE_TIMER", "0 0 0 1 1 *")
    seen_paths = []

    def vouch_for_the_caller(req):
        # What an Easy Auth step does with its header: drop the client's, add its own.
        req.remove_header("X-Fixture")
        req.add_header("X-Fixture", "from-the-step")

    def refuse_unless_allowed(req):
        seen_paths.append(req.path)
        if req.header("X-Let-Me-In") is None:
            return json_error(401, "Unauthorized", "No principal.")
        return None

    dev = DevHost(FIXTURE_APP, port=0, timers=False, queues=False)
    dev.request_steps.extend([vouch_for_the_caller, refuse_unless_allowed])
    with dev:
        status, _, body = request("PUT", f"{dev.base_url}/items/1", body=b"x",
                                  headers={"X-Fixture": "forged", "X-Let-Me-In": "1"})
        assert (status, json.loads(body)["header"]) == (200, "from-the-step")
        # Refused before routing: even a path no function serves gets the step's answer.
        status, _, body = request("POST", f"{dev.base_url}/nope", body=b"unread")
        assert (status, json.loads(body)["error"]["code"]) == (401, "Unauthorized")
    assert seen_paths == ["/api/items/1", "/api/nope"]
