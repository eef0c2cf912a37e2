"""What the AML v2 proxy handler tests share: the handlers with the real clients and transport
(tokens minted locally), and small request helpers."""

from __future__ import annotations

import json
import time

import azure.functions as func

from shared.aml.client import AmlClient
from shared.aml.transport import AmlTransport
from shared.api.batch import BatchHandlers
from shared.api.http import handle
from shared.api.jobs import JobHandlers
from tests.unit.api.test_proxy_handlers import MintedTokens


COMMAND_JOB = {"jobType": "Command", "experimentName": "proxy_v2", "command": "python score.py --day ${{inputs.day}}",
               "environmentId": "azureml:scoring-env:1", "computeId": "cpu-cluster",
               "inputs": {"day": {"jobInputType": "literal", "value": "2026-11-22"}}, "tags": {"team": "ml"}}


def transport_for(settings):
    return AmlTransport(MintedTokens(), allowed_hosts=settings.allows_host, timeout_seconds=2, max_retries=1,
                        backoff_base_seconds=0.01)


class Proxy:
    def __init__(self, settings):
        client = AmlClient(transport_for(settings), settings)
        self.groups = {"jobs": JobHandlers(client, settings), "batch": BatchHandlers(client, settings)}

    def __call__(self, group, operation, method="GET", route=None, body=None, *, raw=None, params=None,
                 headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        req = func.HttpRequest(method, "http://localhost/api/x", headers={"Content-Type": "application/json",
                                                                          **(headers or {})},
                               params=params or {}, route_params=route or {}, body=data)
        resp = handle(lambda: getattr(self.groups[group], operation)(req))
        payload = json.loads(resp.get_body()) if resp.get_body() else None
        return resp.status_code, payload, resp.headers


def put_job(proxy, name, body=COMMAND_JOB, **kwargs):
    return proxy("jobs", "put", "PUT", {"name": name}, body, **kwargs)


def emulator_job(aml, name):
    return next(j for j in aml.jobs() if j["name"] == name)


def wait_for_status(proxy, name, wanted, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job, _ = proxy("jobs", "get", route={"name": name})
        assert status == 200, job
        if job["status"] in wanted:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {name} never reached {wanted}")


def invocations(aml):
    return [r["invocation"] for r in aml.runs() if r.get("invocation")]


def invoke(proxy, body=None, *, name="score-batch", headers=None, raw=None):
    return proxy("batch", "invoke", "POST", {"name": name}, body, headers=headers, raw=raw)
