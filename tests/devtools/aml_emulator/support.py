"""Helpers shared by the AML emulator's tests: a small HTTP client and error-shape checks."""

from __future__ import annotations

import re
import time

import requests

from devtools.aml_emulator import AmlEmulator
from devtools.identity_emulator import encode_token

ARM = "https://management.azure.com"
ML = "https://ml.azure.com"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def minted_token(audience: str) -> str:
    """A token the emulator accepts for ``audience``, without an identity emulator."""
    return encode_token({"aud": audience, "exp": int(time.time()) + 600, "oid": "o", "tid": "t"})


class Client:
    """Just enough of an AML client to exercise the emulator over real HTTP."""

    def __init__(self, aml: AmlEmulator, token: str | None) -> None:
        self.aml = aml
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.w = aml.workspace_path

    def url(self, service: str, rest: str, workspace: str | None = None) -> str:
        return f"{self.aml.base_url}/{service}/v1.0/{workspace or self.w}/{rest}"

    def submit(self, pipeline_id="score-pipeline", experiment="batch_scoring", **extra) -> requests.Response:
        body = {"ExperimentName": experiment, "ParameterAssignments": {"param_batch_size": 50},
                "DataPathAssignments": {}, "Description": "nightly", "Tags": {}, "RunSource": "API"}
        body.update(extra)
        return self.session.post(self.url("pipelines", f"PipelineRuns/PipelineSubmit/{pipeline_id}"),
                                 json=body, timeout=5)

    def run(self, run_id: str, experiment: str | None = "batch_scoring") -> requests.Response:
        rest = f"experiments/{experiment}/runs/{run_id}" if experiment else f"runs/{run_id}"
        return self.session.get(self.url("history", rest), timeout=5)

    def wait_for(self, run_id: str, statuses: set[str], timeout: float = 5.0) -> tuple[dict, list[str]]:
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            dto = self.run(run_id).json()
            if not seen or seen[-1] != dto["status"]:
                seen.append(dto["status"])
            if dto["status"] in statuses:
                return dto, seen
            assert time.monotonic() < deadline, f"run stuck; saw {seen}"
            time.sleep(0.02)


def assert_error_shape(response: requests.Response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body["error"]) >= {"code", "message", "details"}
    assert GUID.match(body["correlation"]["RequestId"])
    return body["error"]
