"""Script runs started through the execution service, and run details.

    POST /execution/v1.0/W/experiments/{exp}/startrun[?runId=]   multipart runDefinitionFile + projectZipFile
    GET  /history/v1.0/W/experiments/{exp}/runs/{runId}/details
    GET  /history/v1.0/W/runs/{runId}/details

``startrun`` answers the execution service's ``StartRunResult`` (``{"runId"}``); the run
then advances like a pipeline run, over ``run_seconds``, and always completes.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import logging
import time
import uuid
import zipfile

from devtools.aml_emulator.errors import ApiError, bad_request
from devtools.aml_emulator.routing import SEGMENT, WORKSPACE, Reply, Request, Route
from devtools.aml_emulator.runs import EXECUTION, EXPERIMENT_NAME, EXPERIMENT_PATH, HISTORY, RunsMixin
from devtools.aml_emulator.wire_formats import parse_rh_time, timespan

log = logging.getLogger(__name__)

# The run-details keys that repeat the run-history Run as it is.
_DETAILS_FROM_RUN = (
    "runId", "runUuid", "parentRunUuid", "rootRunUuid", "target", "status", "parentRunId",
    "startTimeUtc", "endTimeUtc", "error", "warnings", "tags", "properties", "inputDatasets",
    "outputDatasets", "runNumber", "rootRunId", "experimentId", "userId", "statusRevision",
    "hasVirtualParent", "createdBy", "lastStartTimeUtc", "lastModifiedUtc", "duration", "services",
)


class ScriptRunsMixin(RunsMixin):
    def _h_start_run(self, request: Request) -> Reply:
        experiment_name = request.params["exp"]
        if not EXPERIMENT_NAME.match(experiment_name):
            raise bad_request(f"Experiment name {experiment_name!r} is invalid.")
        parts = multipart_parts(request)
        missing = [name for name in ("runDefinitionFile", "projectZipFile") if name not in parts]
        if missing:
            raise bad_request(f"The multipart body has no {', '.join(missing)} part.")
        try:
            definition = json.loads(parts["runDefinitionFile"])
        except ValueError:
            raise bad_request("runDefinitionFile is not valid JSON.") from None
        if not isinstance(definition, dict):
            raise bad_request("runDefinitionFile must hold a RunDefinition object.")
        try:
            with zipfile.ZipFile(io.BytesIO(parts["projectZipFile"])) as archive:
                archive.infolist()
        except (zipfile.BadZipFile, ValueError):
            raise bad_request("projectZipFile is not a zip archive.") from None
        run_id = request.arg("runId") or f"{experiment_name}_{int(time.time())}_{uuid.uuid4().hex[:8]}"
        if not EXPERIMENT_NAME.match(run_id):
            raise bad_request(f"Run id {run_id!r} is invalid.")
        configuration = definition.get("configuration") if isinstance(definition.get("configuration"), dict) else {}
        target = configuration.get("target")
        script = configuration.get("script")
        now = time.time()
        with self._lock:
            if run_id in self._runs:
                raise ApiError(409, "UserError", f"Run {run_id} already exists.", inner_code="RunAlreadyExists")
            self._new_run(
                run_id, experiment_name, request.claims, now,
                graphId=None,
                pipelineId=None,
                pipelineEndpointId=None,
                pipelineVersion=None,
                durationSeconds=self.run_seconds,
                outcome="Completed",
                properties={"azureml.runsource": "experiment", "ContentSnapshotId": str(uuid.uuid4())},
                parameterAssignments={},
                dataPathAssignments={},
                description=None,
                tags={},
                runSource="experiment",
                runType="azureml.scriptrun",
                target=target if isinstance(target, str) else None,
                scriptName=script if isinstance(script, str) else None,
                definition=definition,
            )
        log.debug("aml script run %s started in experiment %s", run_id, experiment_name)
        return Reply(200, {"runId": run_id})

    def _h_run_details(self, request: Request) -> Reply:
        now = time.time()
        with self._lock:
            run = self._find_run(request.params["runId"], request.params.get("exp"))
            dto = self._run_dto(run, now)
        details = {key: dto.get(key) for key in _DETAILS_FROM_RUN}
        started, ended = parse_rh_time(dto["startTimeUtc"]), parse_rh_time(dto["endTimeUtc"])
        details.update({
            "runDefinition": run.get("definition") or {},
            "logFiles": {"azureml-logs/70_driver_log.txt": f"{self.base_url}/_emulator/logs/{run['runId']}"}
            if started else {},
            "jobCost": None,
            "revision": 1,
            "runTypeV2": {"orchestrator": None, "traits": [], "attribution": None},
            "settings": {},
            "computeRequest": None,
            "compute": {"target": run.get("target"), "targetType": None},
            "computeDuration": timespan(((ended or now) - started)) if started else None,
            "effectiveStartTimeUtc": dto["startTimeUtc"],
            "currentComputeTime": None,
            "lastModifiedBy": dict(run["createdBy"]),
        })
        return Reply(200, details)


def multipart_parts(request: Request) -> dict[str, bytes]:
    """Named parts of a multipart/form-data body (one value per name; the last wins)."""
    content_type = request.headers.get("Content-Type") or ""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(415, "UnsupportedMediaType", "Content-Type must be multipart/form-data.")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.body)
    if not message.is_multipart():
        raise bad_request("The multipart body could not be parsed.")
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            parts[name] = part.get_payload(decode=True) or b""
    return parts


ROUTES = [
    Route("POST", rf"{EXECUTION}{EXPERIMENT_PATH}/startrun", "data", ScriptRunsMixin._h_start_run),
    Route("GET", rf"{HISTORY}{EXPERIMENT_PATH}/runs/(?P<runId>{SEGMENT})/details", "data",
          ScriptRunsMixin._h_run_details),
    # Without the experiment, as azure-ai-ml reads a v2 job's details (and its error).
    Route("GET", rf"{HISTORY}/{WORKSPACE}/runs/(?P<runId>{SEGMENT})/details", "data",
          ScriptRunsMixin._h_run_details),
]
