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


class Arm:
    """Just enough of an ARM client for the emulator's AML v2 routes, over real HTTP."""

    def __init__(self, aml: AmlEmulator, token: str | None = None, api_version: str = "2025-12-01") -> None:
        self.aml = aml
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token or minted_token(ARM)}"
        self.params = {"api-version": api_version}

    def url(self, *segments: str) -> str:
        return "/".join((self.aml.base_url, self.aml.workspace_path, *segments))

    def call(self, method: str, *segments: str, url: str | None = None, params: dict | None = None,
             **kwargs) -> requests.Response:
        return self.session.request(method, url or self.url(*segments),
                                    params=self.params if params is None and url is None else params,
                                    timeout=5, **kwargs)

    def get(self, *segments: str, **kwargs) -> requests.Response:
        return self.call("GET", *segments, **kwargs)

    def put_job(self, name: str, properties: dict) -> requests.Response:
        return self.call("PUT", "jobs", name, json={"properties": properties})

    def wait_for_job(self, name: str, statuses: set[str], timeout: float = 5.0) -> tuple[dict, list[str]]:
        """The job once its status is one of ``statuses``, and every status seen on the way."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            job = self.get("jobs", name).json()
            status = job["properties"]["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in statuses:
                return job, seen
            assert time.monotonic() < deadline, f"job stuck; saw {seen}"
            time.sleep(0.02)


def compute_id(aml: AmlEmulator, name: str) -> str:
    return f"/{aml.workspace_path}/computes/{name}"


def command_job(aml: AmlEmulator, compute: str = "cpu-cluster", **extra) -> dict:
    """A CommandJob's properties, as azure-ai-ml sends them for a job on ``compute``."""
    return {"jobType": "Command", "command": "python score.py --date ${{inputs.date}}",
            "environmentId": "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest",
            "computeId": compute_id(aml, compute), "experimentName": "nightly", "displayName": "nightly scoring",
            "inputs": {"date": {"jobInputType": "literal", "value": "2026-11-22"}},
            "outputs": {"scores": {"jobOutputType": "uri_folder", "mode": "ReadWriteMount"}},
            "tags": {"slot": "2026-11-22T02:00"}, **extra}


def pipeline_job(aml: AmlEmulator, compute: str = "cpu-cluster", **extra) -> dict:
    """A PipelineJob's properties with one command node, as the 2025-12-01 examples shape them."""
    return {"jobType": "Pipeline", "experimentName": "nightly", "displayName": "nightly pipeline",
            "computeId": compute_id(aml, compute), "settings": {"default_compute": compute_id(aml, compute)},
            "inputs": {"data": {"jobInputType": "uri_folder", "uri": "azureml://datastores/blob/paths/in/",
                                "mode": "ReadOnlyMount"}},
            "outputs": {"scores": {"jobOutputType": "uri_folder", "mode": "Upload"}},
            "jobs": {"score": {"type": "command", "componentId": "azureml:score:1",
                               "inputs": {"data": {"job_input_type": "literal", "value": "${{parent.inputs.data}}"}}}},
            "tags": {}, **extra}


# Schedule properties as an ARM PUT carries them, one per trigger and action type.
CRON = {
    "displayName": "Nightly", "isEnabled": True,
    "trigger": {"triggerType": "Cron", "expression": "0 2 * * *", "timeZone": "W. Europe Standard Time",
                "startTime": "2026-01-01T00:00:00", "endTime": "2027-01-01T00:00:00"},
    "action": {"actionType": "InvokeBatchEndpoint", "endpointInvocationDefinition": {"endpointId": "score-batch"}},
}
RECURRENCE = {
    "displayName": "Weekdays", "isEnabled": False,
    "trigger": {"triggerType": "Recurrence", "frequency": "Week", "interval": 1, "timeZone": "Pacific Standard Time",
                "schedule": {"hours": [6], "minutes": [30], "weekDays": ["Monday", "Friday"]}},
    "action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Pipeline", "jobs": {}}},
}
