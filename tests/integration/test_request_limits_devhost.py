"""Bad input that the app must refuse with a 4xx naming the field, writing nothing, on the real host:
nesting beyond the JSON depth cap on every JSON entry point, bodies without a Content-Type,
time zones that are not strings, and If-Match values that cannot be one of the app's ETags.

Each request goes through the dev host to Azurite and the AML emulator, and is checked to
have left both tables and AML exactly as they were.
"""

from __future__ import annotations

import json

import pytest
import requests
from urllib3 import encode_multipart_formdata

from tests.conftest import PIPELINE_ID, written_state

pytestmark = pytest.mark.azurite

ENDPOINT_ID = "99999999-8888-7777-6666-555555555555"
# Deeper than Python's recursion limit (a 500 before the cap existed) and just above the cap.
DEPTHS = (1000, 65)


def schedule(schedule_id="limits", **trigger):
    return {"id": schedule_id, "trigger": {"cron": "0 30 2 * * *", **trigger},
            "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": "limits"}}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def host(proxy_host):
    status, body, _ = proxy_host.client("POST", "schedules", schedule())
    assert status == 201, body
    return proxy_host


JSON_ROUTES = [
    ("POST", "schedules", '{{"id": "deep", "description": {deep}}}'),
    ("PUT", "schedules/limits", '{{"id": "limits", "trigger": {deep}}}'),
    ("PATCH", "schedules/limits", '{{"target": {{"parameterAssignments": {{"p": {deep}}}}}}}'),
    ("POST", "schedules/limits/trigger", '{{"parameterAssignments": {deep}}}'),
    ("POST", "schedules/limits/backfill", '{{"from": {deep}, "to": "2026-01-01T00:00:00Z"}}'),
    ("PUT", "computes/deep-cluster", '{{"computeType": "AmlCompute", "tags": {deep}}}'),
    ("PATCH", "computes/deep-cluster", '{{"scaleSettings": {deep}}}'),
    ("POST", f"pipelines/{PIPELINE_ID}/submit", '{{"experimentName": "x", "parameterAssignments": {deep}}}'),
    ("POST", f"pipeline-endpoints/{ENDPOINT_ID}/submit", '{{"experimentName": "x", "tags": {deep}}}'),
]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("method, path, template", JSON_ROUTES, ids=[f"{m} {p}" for m, p, _ in JSON_ROUTES])
def test_json_nested_beyond_the_cap_is_a_400_on_every_json_route(host, method, path, template, depth):
    before = written_state(host)
    body = template.format(deep=nested(depth)).encode()
    status, answer, _ = host.client(method, path, raw=body)
    assert status == 400, answer
    assert answer["error"]["details"][0]["field"] == "body"
    assert "nested deeper than 64" in answer["error"]["message"]
    assert written_state(host) == before


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_run_definition_nested_beyond_the_cap_is_a_400(host, depth):
    before = written_state(host)
    body, content_type = encode_multipart_formdata({
        "runDefinitionFile": ("definition.json", nested(depth).encode(), "application/json"),
        "projectZipFile": ("project.zip", b"PK\x05\x06" + b"\x00" * 18, "application/zip")})
    status, answer, _ = host.client("POST", "experiments/limits/runs", raw=body,
                                    headers={"Content-Type": content_type})
    assert status == 400, answer
    assert answer["error"]["details"][0]["field"] == "runDefinitionFile"
    assert written_state(host) == before


def test_nesting_up_to_the_cap_is_parsed_and_judged_on_its_content(host):
    status, answer, _ = host.client("POST", "schedules", raw=f'{{"id": "capped", "x": {nested(63)}}}'.encode())
    assert status == 400 and answer["error"]["details"][0]["field"] == "x"


@pytest.mark.parametrize("zone", [["Europe/Berlin"], {"name": "UTC"}, [], "", 3, True])
def test_a_time_zone_that_is_not_a_name_is_a_400(host, zone):
    before = written_state(host)
    status, answer, _ = host.client("POST", "schedules", schedule("zoned", timeZone=zone))
    assert status == 400, answer
    assert answer["error"]["details"][0]["field"] == "trigger.timeZone"
    assert written_state(host) == before


@pytest.mark.parametrize("if_match", ["not-an-etag", 'W/"datetime\'garbage\'"', '"x"', "W/", "\u00e9"])
def test_an_if_match_that_cannot_be_ours_is_a_412_and_deletes_nothing(host, if_match):
    before = written_state(host)
    status, answer, _ = host.client("DELETE", "schedules/limits", headers={"If-Match": if_match.encode("latin-1")})
    assert status == 412, answer
    assert answer["error"]["code"] == "PreconditionFailed"
    assert written_state(host) == before
    assert host.client("GET", "schedules/limits")[0] == 200


@pytest.mark.parametrize("method, path", [("POST", "schedules"), ("PATCH", "schedules/limits"),
                                          ("POST", "schedules/limits/trigger"),
                                          ("POST", f"pipelines/{PIPELINE_ID}/submit")])
def test_a_body_without_content_type_is_a_415(host, method, path):
    before = written_state(host)
    # requests adds no Content-Type for bytes: what a browser's cross-site "simple" request can send.
    response = requests.request(method, f"{host.url}/{path}", data=json.dumps(schedule("typeless")).encode(),
                                headers={"Connection": "close"}, timeout=30)
    assert "Content-Type" not in response.request.headers
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["error"]["message"]
    assert written_state(host) == before


def test_a_bodyless_post_needs_no_content_type(host):
    response = requests.post(f"{host.url}/schedules/limits/disable", headers={"Connection": "close"}, timeout=30)
    assert response.status_code == 200, response.text
    response = requests.post(f"{host.url}/schedules/limits/enable", headers={"Connection": "close"}, timeout=30)
    assert response.status_code == 200, response.text
