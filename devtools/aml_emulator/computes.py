"""ARM computes: AmlCompute clusters and compute instances.

ARM plane (``?api-version=`` required; only the ARM audience is accepted):

    GET    /W/computes[?$skip=N]                                  paged with nextLink
    GET    /W/computes/{name}
    PUT    /W/computes/{name}          201 + Azure-AsyncOperation (new) / 200 + Azure-AsyncOperation (update)
    PATCH  /W/computes/{name}          scale settings; 200 + Azure-AsyncOperation
    DELETE /W/computes/{name}?underlyingResourceAction=Delete|Detach   202 + both headers; 204 if absent
    POST   /W/computes/{name}/start|stop   202 + Azure-AsyncOperation; restart: 202 + Location
    POST   /W/computes/{name}/listNodes[?$skip=N]

Computes follow the 2025-12-01 ``ComputeResource`` shapes (AmlCompute, ComputeInstance).
While an operation runs the compute shows Creating, Updating or Deleting (instances:
Starting, Stopping, Restarting) and any other write on it answers 409.
"""

from __future__ import annotations

import re
import time
from typing import Any

from devtools.aml_emulator.arm import api_version, next_link, skip_offset
from devtools.aml_emulator.errors import ApiError, bad_request
from devtools.aml_emulator.operations import OperationsMixin
from devtools.aml_emulator.routing import SEGMENT, WORKSPACE, Reply, Request, Route
from devtools.aml_emulator.wire_formats import json_copy, rh_time

_CLUSTER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]")
# Instance names may not end in "-<digits>", which the service keeps for its own use.
_INSTANCE_NAME = re.compile(r"(?!.*-[0-9]+$)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]")
_POWER_ACTIONS = ("start", "stop", "restart")


class ComputesMixin(OperationsMixin):
    def seed_compute(
        self,
        name: str,
        compute_type: str = "AmlCompute",
        *,
        vm_size: str = "STANDARD_DS3_V2",
        min_nodes: int = 0,
        max_nodes: int = 4,
        idle: str = "PT120S",
        node_count: int | None = None,
        state: str = "Running",
        provisioning_state: str = "Succeeded",
        operation_outcome: str = "Succeeded",
        location: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) a settled compute; returns its ARM body.

        ``node_count`` fixes the cluster's current nodes (default: ``min_nodes``);
        ``operation_outcome="Failed"`` makes every later operation on it fail.
        """
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError("compute name must be a non-empty string without '/'")
        if compute_type not in ("AmlCompute", "ComputeInstance"):
            raise ValueError("computeType must be AmlCompute or ComputeInstance")
        if operation_outcome not in ("Succeeded", "Failed"):
            raise ValueError("operationOutcome must be Succeeded or Failed")
        if provisioning_state not in ("Succeeded", "Failed"):
            raise ValueError("provisioningState must be Succeeded or Failed")
        if compute_type == "ComputeInstance" and state not in ("Running", "Stopped"):
            raise ValueError("state must be Running or Stopped")
        for label, value in (("minNodeCount", min_nodes), ("maxNodeCount", max_nodes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{label} must be a non-negative integer")
        if node_count is not None and (isinstance(node_count, bool) or not isinstance(node_count, int)
                                       or node_count < 0):
            raise ValueError("nodeCount must be a non-negative integer")
        props: dict[str, Any] = {"vmSize": vm_size}
        if compute_type == "AmlCompute":
            props.update(vmPriority="Dedicated", osType="Linux", remoteLoginPortPublicAccess="Disabled",
                         enableNodePublicIp=True,
                         scaleSettings={"minNodeCount": min_nodes, "maxNodeCount": max_nodes,
                                        "nodeIdleTimeBeforeScaleDown": idle})
        else:
            props.update(applicationSharingPolicy="Shared", enableNodePublicIp=True,
                         sshSettings={"sshPublicAccess": "Disabled", "adminUserName": "azureuser", "sshPort": 50000})
        now = time.time()
        compute = {
            "name": name, "computeType": compute_type, "location": location or self.location,
            "description": description, "tags": {}, "props": props, "createdOn": now, "modifiedOn": now,
            "provisioningState": provisioning_state, "state": state, "nodeCount": node_count,
            "operationOutcome": operation_outcome, "pending": None, "lastOperation": None,
        }
        with self._lock:
            self._computes[name] = compute
            return self._compute_body(compute, now)

    def remove_compute(self, name: str) -> bool:
        with self._lock:
            return self._computes.pop(name, None) is not None

    def computes(self) -> list[dict[str, Any]]:
        """Every compute as ARM would answer a GET now."""
        now = time.time()
        with self._lock:
            self._settle(now)
            return self._compute_bodies(now)

    # -- state and shapes ------------------------------------------------------------

    def _apply_finished_operation(self, op: dict[str, Any], compute: dict[str, Any]) -> None:
        ok = op["outcome"] == "Succeeded"
        kind = op["kind"]
        if kind in _POWER_ACTIONS:
            if ok:
                compute["state"] = "Stopped" if kind == "stop" else "Running"
            compute["lastOperation"] = {
                "operationName": kind.capitalize(), "operationTime": rh_time(op["doneAt"]),
                "operationStatus": "Succeeded" if ok else f"{kind.capitalize()}Failed",
                "operationTrigger": "User"}
        elif kind == "delete":
            if ok:
                del self._computes[op["compute"]]
            else:
                compute["provisioningState"] = "Failed"
        else:
            if ok and op.get("changes"):
                _deep_update(compute["props"], op["changes"])
            compute["provisioningState"] = "Succeeded" if ok else "Failed"

    def _operation_result_body(self, op: dict[str, Any], now: float) -> dict[str, Any] | None:
        compute = self._computes.get(op["compute"])
        return self._compute_body(compute, now) if compute is not None else None

    def _compute_bodies(self, now: float) -> list[dict[str, Any]]:
        return [self._compute_body(c, now) for c in sorted(self._computes.values(), key=lambda c: c["name"])]

    def _compute_body(self, compute: dict[str, Any], now: float) -> dict[str, Any]:
        """The ARM ``ComputeResource`` of ``compute``, showing any operation in progress."""
        pending = self._operations.get(compute["pending"]) if compute["pending"] else None
        provisioning = compute["provisioningState"]
        state = compute["state"]
        if pending is not None:
            provisioning = {"create": "Creating", "update": "Updating", "delete": "Deleting"}.get(
                pending["kind"], provisioning)
            state = {"start": "Starting", "stop": "Stopping", "restart": "Restarting"}.get(pending["kind"], state)
        props = json_copy(compute["props"])
        if compute["computeType"] == "AmlCompute":
            scale = props.get("scaleSettings") or {}
            nodes = compute["nodeCount"] if compute["nodeCount"] is not None else int(scale.get("minNodeCount", 0))
            resizing = pending is not None and pending["kind"] in ("create", "update")
            props.update({
                "allocationState": "Resizing" if resizing else "Steady",
                "allocationStateTransitionTime": rh_time(compute["modifiedOn"]),
                "errors": None,
                "currentNodeCount": nodes,
                "targetNodeCount": nodes,
                "nodeStateCounts": {"preparingNodeCount": 0, "runningNodeCount": 0, "idleNodeCount": nodes,
                                    "unusableNodeCount": 0, "leavingNodeCount": 0, "preemptedNodeCount": 0},
            })
            props.pop("userAccountCredentials", None)  # ARM never returns credentials
        else:
            props.update({"state": state, "errors": [], "lastOperation": compute["lastOperation"],
                          "connectivityEndpoints": {"publicIpAddress": None, "privateIpAddress": "10.0.0.4"},
                          "applications": []})
        properties = {
            "computeType": compute["computeType"],
            "computeLocation": compute["location"],
            "provisioningState": provisioning,
            "description": compute["description"],
            "createdOn": rh_time(compute["createdOn"]),
            "modifiedOn": rh_time(compute["modifiedOn"]),
            "resourceId": None,
            "provisioningErrors": None if provisioning != "Failed" else [
                {"error": {"code": "ComputeOperationFailed", "message": "Emulated provisioning failure."}}],
            "isAttachedCompute": False,
            "disableLocalAuth": True,
            "properties": props,
        }
        return {
            "id": f"/{self.workspace_path}/computes/{compute['name']}",
            "name": compute["name"],
            "type": "Microsoft.MachineLearningServices/workspaces/computes",
            "location": compute["location"],
            "tags": dict(compute["tags"]),
            "properties": properties,
        }

    def _compute_or_404(self, name: str) -> dict[str, Any]:
        compute = self._computes.get(name)
        if compute is None:
            raise ApiError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.MachineLearningServices/workspaces/{self.workspace}/computes/"
                           f"{name}' under resource group '{self.resource_group}' was not found.")
        return compute

    def _not_busy(self, compute: dict[str, Any]) -> None:
        if compute["pending"] is not None:
            op = self._operations[compute["pending"]]
            raise ApiError(409, "Conflict",
                           f"Compute {compute['name']} has an operation in progress ({op['kind']}); try again later.")

    # -- routes ----------------------------------------------------------------------

    def _h_computes_list(self, request: Request) -> Reply:
        version = api_version(request)
        offset = skip_offset(request)
        now = time.time()
        with self._lock:
            self._settle(now)
            items = self._compute_bodies(now)
        body: dict[str, Any] = {"value": items[offset:offset + self.compute_page_size]}
        link = next_link(self.base_url, request, version, offset, self.compute_page_size, len(items))
        if link is not None:
            body["nextLink"] = link
        return Reply(200, body)

    def _h_compute_get(self, request: Request) -> Reply:
        api_version(request)
        now = time.time()
        with self._lock:
            self._settle(now)
            return Reply(200, self._compute_body(self._compute_or_404(request.params["compute"]), now))

    def _h_compute_put(self, request: Request) -> Reply:
        version = api_version(request)
        name = request.params["compute"]
        body = request.json(required=True)
        if not isinstance(body, dict):
            raise bad_request("The request body must be a ComputeResource object.")
        location = body.get("location")
        if not isinstance(location, str) or not location:
            raise ApiError(400, "LocationRequired", "The location property is required for this definition.")
        properties = body.get("properties")
        if not isinstance(properties, dict):
            raise bad_request("properties is required.")
        compute_type = properties.get("computeType")
        if compute_type not in ("AmlCompute", "ComputeInstance"):
            raise bad_request(f"computeType {compute_type!r} is not supported here.")
        inner = properties.get("properties") or {}
        if not isinstance(inner, dict):
            raise bad_request("properties.properties must be an object.")
        if compute_type == "AmlCompute":
            if not _CLUSTER_NAME.fullmatch(name):
                raise bad_request("Compute name is invalid. It can include letters, digits and dashes. It must "
                                  "start with a letter, end with a letter or digit, and be between 2 and 16 "
                                  "characters in length.")
            scale = inner.get("scaleSettings")
            if not isinstance(scale, dict) or not isinstance(scale.get("maxNodeCount"), int):
                raise bad_request("scaleSettings.maxNodeCount is required for AmlCompute.")
        elif not _INSTANCE_NAME.fullmatch(name):
            raise bad_request("A name for an Azure ML Compute Instance must be between 3 and 24 characters in "
                              "length and must use only numbers, letters and minus symbol (-).")
        now = time.time()
        with self._lock:
            self._settle(now)
            existing = self._computes.get(name)
            if existing is None:
                compute = {
                    "name": name, "computeType": compute_type, "location": location,
                    "description": properties.get("description"),
                    "tags": dict(body["tags"]) if isinstance(body.get("tags"), dict) else {},
                    "props": json_copy(inner), "createdOn": now, "modifiedOn": now,
                    "provisioningState": "Creating", "state": "Running", "nodeCount": None,
                    "operationOutcome": "Succeeded", "pending": None, "lastOperation": None,
                }
                self._computes[name] = compute
                op = self._start_operation(compute, "create", now)
                return self._lro_reply(201, self._compute_body(compute, now), op, version,
                                       header="Azure-AsyncOperation")
            self._not_busy(existing)
            if existing["computeType"] != compute_type:
                raise bad_request(f"The compute type of {name} cannot change from {existing['computeType']}.")
            if compute_type == "ComputeInstance":
                raise bad_request("A compute instance cannot be updated with PUT; delete and recreate it.")
            op = self._start_operation(existing, "update", now, changes=json_copy(inner))
            return self._lro_reply(200, self._compute_body(existing, now), op, version,
                                   header="Azure-AsyncOperation")

    def _h_compute_patch(self, request: Request) -> Reply:
        version = api_version(request)
        scale = request.json(required=True)
        for key in ("properties", "properties", "scaleSettings"):
            scale = scale.get(key) if isinstance(scale, dict) else None
        if not isinstance(scale, dict) or not isinstance(scale.get("maxNodeCount"), int):
            raise bad_request("properties.properties.scaleSettings with maxNodeCount is required.")
        now = time.time()
        with self._lock:
            self._settle(now)
            compute = self._compute_or_404(request.params["compute"])
            if compute["computeType"] != "AmlCompute":
                raise bad_request("Only AmlCompute scale settings can be updated.")
            self._not_busy(compute)
            op = self._start_operation(compute, "update", now, changes={"scaleSettings": dict(scale)})
            return self._lro_reply(200, self._compute_body(compute, now), op, version,
                                   header="Azure-AsyncOperation")

    def _h_compute_delete(self, request: Request) -> Reply:
        version = api_version(request)
        action = request.arg("underlyingResourceAction")
        if action not in ("Delete", "Detach"):
            raise bad_request("underlyingResourceAction must be Delete or Detach.")
        now = time.time()
        with self._lock:
            self._settle(now)
            compute = self._computes.get(request.params["compute"])
            if compute is None:
                return Reply(204)
            self._not_busy(compute)
            op = self._start_operation(compute, "delete", now)
            return self._lro_reply(202, None, op, version, header="both")

    def _h_compute_power(self, request: Request) -> Reply:
        version = api_version(request)
        # The route matches the action in any case; the operation kind is lower case.
        action = request.params["action"].lower()
        now = time.time()
        with self._lock:
            self._settle(now)
            compute = self._compute_or_404(request.params["compute"])
            if compute["computeType"] != "ComputeInstance":
                raise bad_request(f"{action} is supported on compute instances only.")
            self._not_busy(compute)
            if (action, compute["state"]) in (("start", "Running"), ("stop", "Stopped")):
                raise ApiError(409, "Conflict", f"Compute instance {compute['name']} is already {compute['state']}.")
            op = self._start_operation(compute, action, now)
            # The specs show start and stop answering with Azure-AsyncOperation, restart with Location.
            return self._lro_reply(202, None, op, version,
                                   header="Location" if action == "restart" else "Azure-AsyncOperation")

    def _h_compute_nodes(self, request: Request) -> Reply:
        version = api_version(request)
        offset = skip_offset(request)
        now = time.time()
        with self._lock:
            self._settle(now)
            compute = self._compute_or_404(request.params["compute"])
            if compute["computeType"] != "AmlCompute":
                raise bad_request("listNodes is supported on AmlCompute only.")
            current = self._compute_body(compute, now)["properties"]["properties"]["currentNodeCount"]
        nodes = [{"nodeId": f"tvm-{abs(hash(compute['name'])) % 10**10}_{i}-20260101t000000z",
                  "privateIpAddress": f"10.0.0.{4 + i}", "publicIpAddress": None, "port": 50000 + i,
                  "nodeState": "idle", "runId": None} for i in range(current)]
        page = nodes[offset:offset + self.compute_page_size]
        link = next_link(self.base_url, request, version, offset, self.compute_page_size, len(nodes))
        return Reply(200, {"nodes": page, "nextLink": link})


def _deep_update(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


_COMPUTES = rf"/{WORKSPACE}/computes"
_COMPUTE = rf"{_COMPUTES}/(?P<compute>{SEGMENT})"

ROUTES = [
    Route("GET", _COMPUTES, "arm", ComputesMixin._h_computes_list),
    Route("GET", _COMPUTE, "arm", ComputesMixin._h_compute_get),
    Route("PUT", _COMPUTE, "arm", ComputesMixin._h_compute_put),
    Route("PATCH", _COMPUTE, "arm", ComputesMixin._h_compute_patch),
    Route("DELETE", _COMPUTE, "arm", ComputesMixin._h_compute_delete),
    Route("POST", rf"{_COMPUTE}/(?P<action>{'|'.join(_POWER_ACTIONS)})", "arm", ComputesMixin._h_compute_power),
    Route("POST", rf"{_COMPUTE}/listNodes", "arm", ComputesMixin._h_compute_nodes),
]
