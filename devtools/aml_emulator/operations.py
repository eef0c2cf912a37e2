"""ARM long-running operations (LROs) on computes.

    GET /subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/
        computeOperationsStatus/{id}   {"status": "InProgress|Succeeded|Failed", "error"?}
        computeOperationsResult/{id}   202 while running, then 200 (compute) / 204, or the error

An operation takes ``operation_seconds`` and, like a run, advances with wall-clock
time; its effect on the compute is applied the first time anyone looks after it
ended. The status URL has the shape seen from the real service
(``.../locations/{region}/computeOperationsStatus/{id}?api-version=...&service=new``);
the result URL's shape is the emulator's own (the specs only say
"pathToOperationResult"). ``Retry-After`` is ``retry_after_seconds`` in whole seconds.
"""

from __future__ import annotations

import time
import urllib.parse
import uuid
from typing import Any

from devtools.aml_emulator.arm import api_version
from devtools.aml_emulator.base import EmulatorBase
from devtools.aml_emulator.errors import ApiError
from devtools.aml_emulator.routing import SEGMENT, Reply, Request, Route
from devtools.aml_emulator.wire_formats import retry_after_header, rh_time


class OperationsMixin(EmulatorBase):
    """The LRO protocol; the computes area says what a finished operation changes.

    ComputesMixin, composed with this one in ``AmlEmulator``, provides the two hooks used
    here: ``_apply_finished_operation(op, compute)`` (change the compute as the finished
    operation did; the caller holds the lock) and ``_operation_result_body(op, now)`` (the
    ARM body of the resource the operation worked on, or None if it is gone).
    """

    def operations(self) -> list[dict[str, Any]]:
        now = time.time()
        with self._lock:
            self._settle(now)
            return [self._operation_body(op, now) | {"computeName": op["compute"], "kind": op["kind"]}
                    for op in self._operations.values()]

    # -- bookkeeping -----------------------------------------------------------------

    def _settle(self, now: float) -> None:
        """Apply the effects of operations that have finished by ``now`` (caller holds the lock)."""
        for op in sorted(self._operations.values(), key=lambda o: o["doneAt"]):
            if op["applied"] or op["doneAt"] > now:
                continue
            op["applied"] = True
            compute = self._computes.get(op["compute"])
            # A compute replaced or removed through the admin API no longer waits for it.
            if compute is None or compute["pending"] != op["id"]:
                continue
            compute["pending"] = None
            compute["modifiedOn"] = op["doneAt"]
            self._apply_finished_operation(op, compute)

    def _start_operation(self, compute: dict[str, Any], kind: str, now: float,
                         changes: dict[str, Any] | None = None) -> dict[str, Any]:
        op = {
            "id": str(uuid.uuid4()), "compute": compute["name"], "kind": kind, "startedAt": now,
            "doneAt": now + self.operation_seconds, "outcome": compute["operationOutcome"],
            "applied": False, "changes": changes,
        }
        self._operations[op["id"]] = op
        compute["pending"] = op["id"]
        return op

    def _operation_urls(self, op: dict[str, Any], version: str) -> dict[str, str]:
        base = (f"{self.base_url}/subscriptions/{self.subscription_id}/providers/Microsoft.MachineLearningServices"
                f"/locations/{self.location}")
        query = urllib.parse.urlencode({"api-version": version})
        return {
            "Azure-AsyncOperation": f"{base}/computeOperationsStatus/{op['id']}?{query}&service=new",
            "Location": f"{base}/computeOperationsResult/{op['id']}?{query}",
        }

    def _operation_body(self, op: dict[str, Any], now: float) -> dict[str, Any]:
        done = now >= op["doneAt"]
        status = op["outcome"] if done else "InProgress"
        body: dict[str, Any] = {"id": op["id"], "name": op["id"], "status": status,
                                "startTime": rh_time(op["startedAt"]), "endTime": rh_time(op["doneAt"]) if done else None}
        if status == "Failed":
            body["error"] = {"code": "ComputeOperationFailed",
                             "message": f"Emulated failure of the {op['kind']} operation on {op['compute']}."}
        return body

    def _lro_reply(self, status: int, body: dict[str, Any] | None, op: dict[str, Any], version: str,
                   *, header: str) -> Reply:
        """The first answer to a write that started ``op``; ``header`` names which
        polling header(s) it carries: "Azure-AsyncOperation", "Location" or "both"."""
        urls = self._operation_urls(op, version)
        headers = {"Retry-After": retry_after_header(self.retry_after_seconds)}
        if header in ("Azure-AsyncOperation", "both"):
            headers["Azure-AsyncOperation"] = urls["Azure-AsyncOperation"]
        if header in ("Location", "both"):
            headers["Location"] = urls["Location"]
        return Reply(status, body, headers)

    # -- polling routes --------------------------------------------------------------

    def _operation_for(self, request: Request) -> dict[str, Any]:
        api_version(request)
        if request.params["opsub"].lower() != self.subscription_id.lower():
            raise ApiError(404, "SubscriptionNotFound", f"The subscription '{request.params['opsub']}' could not "
                                                        "be found.")
        op = self._operations.get(request.params["op"])
        if op is None:
            raise ApiError(404, "NotFound", f"Operation {request.params['op']} was not found.")
        return op

    def _h_operation_status(self, request: Request) -> Reply:
        now = time.time()
        with self._lock:
            self._settle(now)
            op = self._operation_for(request)
            body = self._operation_body(op, now)
        in_progress = body["status"] == "InProgress"
        headers = {"Retry-After": retry_after_header(self.retry_after_seconds)} if in_progress else {}
        return Reply(200, body, headers)

    def _h_operation_result(self, request: Request) -> Reply:
        now = time.time()
        with self._lock:
            self._settle(now)
            op = self._operation_for(request)
            body = self._operation_body(op, now)
            result = self._operation_result_body(op, now)
        if body["status"] == "InProgress":
            return Reply(202, None, {"Retry-After": retry_after_header(self.retry_after_seconds),
                                     "Location": f"{self.base_url}{request.path}?{request.query_string}"})
        if body["status"] == "Failed":
            raise ApiError(400, body["error"]["code"], body["error"]["message"])
        return Reply(200, result) if result is not None and op["kind"] != "delete" else Reply(204)


# Where ARM keeps a region's operations; AML v2 job cancels poll under it too (jobs).
LOCATION_PATH = (rf"/subscriptions/(?P<opsub>{SEGMENT})/providers/Microsoft\.MachineLearningServices"
             rf"/locations/(?P<loc>{SEGMENT})")

ROUTES = [
    Route("GET", rf"{LOCATION_PATH}/computeOperationsStatus/(?P<op>{SEGMENT})", "arm",
          OperationsMixin._h_operation_status),
    Route("GET", rf"{LOCATION_PATH}/computeOperationsResult/(?P<op>{SEGMENT})", "arm",
          OperationsMixin._h_operation_result),
]
