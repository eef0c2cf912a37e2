"""Does a schedule's target exist in AML? Asked when the schedule is saved, not every slot after.

A schedule whose pipeline, endpoint, deployment or compute does not exist would otherwise
be saved and then fail every slot. Each kind is checked with the reads the app's identity
already needs to run it:

* `pipeline`: the published pipeline; `pipelineEndpoint`: the endpoint (and the pinned
  version, when one is named);
* `job`: every compute the job names (top level, settings.default_compute, each step);
* `batchEndpoint`: the endpoint, and the named deployment or else the endpoint's default.

A target AML does not have is a 400 naming the field, with AML's own message. When AML
cannot be asked (down, or the identity may not read), saving is refused with that reason
rather than done unchecked; `?validate=false` saves without asking, for targets created later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.aml.errors import AmlError, AmlNotFoundError
from shared.api.http import ApiError, bad_request
from shared.targets import Target, compute_reference_name

if TYPE_CHECKING:
    from shared.aml.client import AmlClient
    from shared.aml.compute import ComputeClient


class TargetCheck:
    def __init__(self, aml: "AmlClient", compute: "ComputeClient"):
        self._aml = aml
        self._compute = compute

    def __call__(self, target: Target) -> None:
        try:
            if target.kind == "pipeline":
                self._exists("target.pipelineId", "published pipeline", target.target_id,
                             lambda: self._aml.get_published_pipeline(target.target_id))
            elif target.kind == "pipelineEndpoint":
                self._pipeline_endpoint(target)
            elif target.kind == "job":
                for where, name in job_computes(target.job or {}):
                    self._exists(where, "compute", name, lambda name=name: self._compute.get(name))
            elif target.kind == "batchEndpoint":
                self._batch_endpoint(target)
        except AmlError as exc:
            raise ApiError(
                503 if exc.retryable else 502, "TargetCheckFailed",
                f"could not check the target in AML ({exc.code or exc.status or type(exc).__name__}: {exc.message}); "
                "try again, or save with ?validate=false to skip the check", field="target") from None

    def _exists(self, where: str, what: str, name: str, read):
        try:
            return read()
        except AmlNotFoundError as exc:
            raise bad_request(where, f"AML has no {what} {name!r}: {exc.message}") from None

    def _pipeline_endpoint(self, target: Target) -> None:
        endpoint = self._exists("target.pipelineEndpointId", "pipeline endpoint", target.target_id,
                                lambda: self._aml.get_pipeline_endpoint(target.target_id))
        versions = endpoint.get("PipelineVersionList") if isinstance(endpoint, dict) else None
        if target.pipeline_version is not None and isinstance(versions, list):
            known = {str(v.get("Version")) for v in versions if isinstance(v, dict)}
            if target.pipeline_version not in known:
                raise bad_request("target.pipelineVersion", f"pipeline endpoint {target.target_id} has no version "
                                  f"{target.pipeline_version!r} (it has {', '.join(sorted(known)) or 'none'})")

    def _batch_endpoint(self, target: Target) -> None:
        batch = self._aml.batch
        endpoint = self._exists("target.endpointName", "batch endpoint", target.target_id,
                                lambda: batch.get_endpoint(target.target_id))
        if target.deployment:
            self._exists("target.deployment", f"deployment in batch endpoint {target.target_id}", target.deployment,
                         lambda: batch.get_deployment(target.target_id, target.deployment))
            return
        defaults = (endpoint.get("properties") or {}).get("defaults") or {}
        if not isinstance(defaults, dict) or not defaults.get("deploymentName"):
            raise bad_request("target.deployment", f"batch endpoint {target.target_id} has no default deployment; "
                                                   "name one")


def job_computes(job: dict, where: str = "target.job") -> list[tuple[str, str]]:
    """(field, compute name) for every compute a job names, its steps' included."""
    found = []
    for key, value in (("computeId", job.get("computeId")),
                       ("settings.default_compute", (job.get("settings") or {}).get("default_compute"))):
        name = compute_reference_name(value)
        if name:
            found.append((f"{where}.{key}", name))
    steps = job.get("jobs")
    if isinstance(steps, dict):
        for step, spec in steps.items():
            if isinstance(spec, dict):
                found.extend(job_computes({"computeId": spec.get("computeId")}, f"{where}.jobs.{step}"))
    # One read per compute, whichever field named it first.
    seen, unique = set(), []
    for item in found:
        if item[1].lower() not in seen:
            seen.add(item[1].lower())
            unique.append(item)
    return unique
