"""HTTP handlers for AML computes (ARM) and the long-running operations they start.

Requests use a flat camelCase shape (see `parse_compute`), translated here to ARM's
nested ComputeResource; ARM's own body is accepted too (`compute_arm`). Answers are mapped back by `compute_view`; `?raw=true` adds
ARM's own body. A write that ARM runs asynchronously answers 202 with an operation the
caller polls at `GET operations/{id}`, or, with `?wait=true`, is waited for up to
AML_PROXY_MAX_WAIT_SECONDS.
"""

from __future__ import annotations

import math
import re
from typing import Any

import azure.functions as func

from shared.aml import names
from shared.aml.compute import ArmResult, ComputeClient, InvalidOperationId
from shared.api.compute_arm import ARM_SHAPE_HINT, flat_from_arm, is_arm_shape, with_arm_field
from shared.api.http import ApiError, bad_request, json_response, no_content, read_json
from shared.api.proxy import (
    aml_error_view,
    guard_destructive,
    object_body,
    query_flag,
    reject_passwords,
    reject_unknown,
    route_value,
    wants_raw,
    with_raw,
)
from shared.config import Settings

COMPUTE_TYPES = ("AmlCompute", "ComputeInstance")
MAX_NODES = 10_000


def _any_case(word: str) -> str:
    """A regex for `word` in any letter case, without flags (the OpenAPI document has none)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


# Each rule is one pattern string, anchored, used here and published in the OpenAPI document,
# so what the document allows and what is accepted cannot differ. No lookarounds and no \w:
# the document's readers use ECMA regular expressions.
_T_PART = r"T(?:[0-9]{1,4}H(?:[0-9]{1,5}M)?(?:[0-9]{1,6}S)?|[0-9]{1,5}M(?:[0-9]{1,6}S)?|[0-9]{1,6}S)"
DURATION = rf"^P(?:[0-9]{{1,4}}D(?:{_T_PART})?|{_T_PART})$"
VM_SIZE = r"^[A-Za-z0-9_]{2,64}$"
REGION = r"^[a-z0-9]{2,40}$"
SUBNET_ID = (
    rf"^/{_any_case('subscriptions')}/[0-9a-fA-F]{{8}}-(?:[0-9a-fA-F]{{4}}-){{3}}[0-9a-fA-F]{{12}}"
    rf"/{_any_case('resourceGroups')}/[-A-Za-z0-9_.()]{{1,90}}"
    rf"/{_any_case('providers')}/{_any_case('Microsoft')}\.{_any_case('Network')}"
    rf"/{_any_case('virtualNetworks')}/[A-Za-z0-9][A-Za-z0-9._-]{{1,63}}"
    rf"/{_any_case('subnets')}/[A-Za-z0-9][A-Za-z0-9._-]{{0,79}}$"
)
SSH_KEY = (r"^[ \t\r\n]*(?:ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) "
           r"[A-Za-z0-9+/]{20,16384}={0,3}(?: [\x21-\x7e]{1,200})?[ \t\r\n]*$")
ADMIN_USER = r"^[a-z_][a-z0-9_-]{0,31}$"
GUID = r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
TAG_KEY = r"^[^<>%&\\?/\x00-\x1f]{1,512}$"
_DURATION = re.compile(DURATION)
_VM_SIZE = re.compile(VM_SIZE)
_SUBNET_ID = re.compile(SUBNET_ID)
_SSH_KEY = re.compile(SSH_KEY)
_ADMIN_USER = re.compile(ADMIN_USER)
_GUID = re.compile(GUID)
_TAG_KEY = re.compile(TAG_KEY)

_COMMON_FIELDS = {"computeType", "location", "description", "vmSize", "subnetId", "enableNodePublicIp", "tags"}
_CLUSTER_FIELDS = _COMMON_FIELDS | {"vmPriority", "scaleSettings", "remoteLoginPortPublicAccess", "adminUserName",
                                    "adminUserSshPublicKey"}
_INSTANCE_FIELDS = _COMMON_FIELDS | {"sshPublicAccess", "sshPublicKey", "applicationSharingPolicy",
                                     "assignedUserObjectId", "assignedUserTenantId"}


class ComputeHandlers:
    def __init__(self, computes: ComputeClient, settings: Settings):
        self._computes = computes
        self._settings = settings

    # -- reads -----------------------------------------------------------------------
    def list(self, req: func.HttpRequest) -> func.HttpResponse:
        raw = wants_raw(req)
        items = self._computes.list()
        return json_response({"value": [with_raw(compute_view(c), c, raw) for c in items]})

    def get(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "compute name")
        raw = wants_raw(req)
        compute = self._computes.get(name)
        return json_response(with_raw(compute_view(compute), compute, raw))

    def nodes(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "compute name")
        raw = wants_raw(req)
        nodes = self._computes.list_nodes(name)
        return json_response({"computeName": name, "value": [with_raw(node_view(n), n, raw) for n in nodes]})

    # -- writes ----------------------------------------------------------------------
    def put(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "compute name")
        options = self._options(req)
        body = object_body(read_json(req))
        reject_passwords(body)
        if is_arm_shape(body):
            try:
                arm_body = parse_compute(flat_from_arm(body), name)
            except ApiError as exc:
                raise with_arm_field(exc) from None
        else:
            arm_body = parse_compute(body, name)
        result = self._computes.create_or_update(name, arm_body)
        return self._finish(result, name, options, created=result.status == 201)

    def patch(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "compute name")
        options = self._options(req)
        body = read_json(req, allowed_types=("application/json", "application/merge-patch+json"))
        reject_passwords(body)
        body = object_body(body)
        reject_unknown(body, {"scaleSettings"})
        if "scaleSettings" not in body:
            raise bad_request("scaleSettings", "is required")
        scale = parse_scale_settings(body["scaleSettings"])
        result = self._computes.update(name, {"properties": {"properties": {"scaleSettings": scale}}})
        return self._finish(result, name, options)

    def delete(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "compute name")
        action = _delete_action(req)
        options = self._options(req)
        guard_destructive(req, self._settings.allow_destructive, f"compute {action.lower()}", f"compute {name}")
        result = self._computes.delete(name, action)
        return self._finish(result, name, options, deleting=True)

    def start(self, req: func.HttpRequest) -> func.HttpResponse:
        return self._power(req, "start")

    def stop(self, req: func.HttpRequest) -> func.HttpResponse:
        return self._power(req, "stop")

    def restart(self, req: func.HttpRequest) -> func.HttpResponse:
        return self._power(req, "restart")

    def operation(self, req: func.HttpRequest) -> func.HttpResponse:
        operation_id = req.route_params.get("id")
        raw = wants_raw(req)
        try:
            self._computes.operation_url(operation_id)
        except InvalidOperationId as exc:
            raise bad_request("id", exc.rule) from None
        state = self._computes.operation_status(operation_id)
        headers = {} if state.done else {"Retry-After": _seconds(state.retry_after)}
        view = {"id": operation_id, "status": state.status, "error": aml_error_view(state.error)}
        return json_response(with_raw(view, state.raw, raw), headers=headers)

    # -- helpers ---------------------------------------------------------------------
    def _power(self, req: func.HttpRequest, action: str) -> func.HttpResponse:
        name = route_value(req, "name", "compute name")
        options = self._options(req)
        # ARM refuses power actions on anything but a compute instance with a 400 of its own;
        # looking first lets the caller hear why, and nothing is sent that ARM must refuse.
        compute_type = compute_view(self._computes.get(name))["computeType"]
        if compute_type != "ComputeInstance":
            raise bad_request("name", f"{action} applies to compute instances only; {name} is a "
                                      f"{compute_type or 'compute of unknown type'}")
        result = self._computes.power(name, action)
        return self._finish(result, name, options)

    @staticmethod
    def _options(req: func.HttpRequest) -> dict:
        return {"wait": query_flag(req, "wait"), "raw": wants_raw(req)}

    def _finish(self, result: ArmResult, name: str, options: dict, *,
                created: bool = False, deleting: bool = False) -> func.HttpResponse:
        raw = options["raw"]
        if result.operation_id is None:
            if deleting and result.status in (200, 204):
                return no_content()
            if result.status in (200, 201) and isinstance(result.body, dict) and result.body.get("properties"):
                return json_response(with_raw(compute_view(result.body), result.body, raw), 201 if created else 200)
            return json_response(with_raw({"status": "Accepted", "operation": None,
                                           "compute": _maybe_view(result.body)}, result.body, raw), 202)
        if options["wait"]:
            state = self._computes.wait(result.operation_id, self._settings.max_wait_seconds)
            if state.status in ("Failed", "Canceled"):
                error = aml_error_view(state.error) or {"code": None, "message": f"the operation ended {state.status}"}
                raise ApiError(502, "AmlOperationFailed", f"AML's operation ended {state.status}: {error['message']}",
                               details=[{"field": "aml", "message": error["message"] or "",
                                         "amlStatus": None, "amlCode": error["code"]}])
            if state.done:
                if deleting:
                    return no_content()
                compute = self._computes.get(name)
                return json_response(with_raw(compute_view(compute), compute, raw), 201 if created else 200)
            result = ArmResult(result.status, result.body, result.operation_id, state.retry_after)
        href = f"/api/operations/{result.operation_id}"
        body = {"status": "Accepted",
                "operation": {"id": result.operation_id, "status": "InProgress", "href": href},
                "compute": _maybe_view(result.body)}
        return json_response(with_raw(body, result.body, raw), 202,
                             headers={"Location": href, "Retry-After": _seconds(result.retry_after)})


def _delete_action(req: func.HttpRequest) -> str:
    """`action`, or ARM's own spelling `underlyingResourceAction` that users copy from AML's docs."""
    given = {name: req.params.get(name) for name in ("action", "underlyingResourceAction")
             if req.params.get(name) is not None}
    if not given:
        raise bad_request("action", "is required: Delete (remove the compute) or Detach (keep the "
                                    "underlying resource, forget it in the workspace)")
    if len(set(given.values())) > 1:
        raise bad_request("underlyingResourceAction", "differs from action; give one of them")
    name, action = next(iter(given.items()))
    if action not in ("Delete", "Detach"):
        raise bad_request(name, "must be Delete or Detach")
    return action


def _seconds(value: float | None) -> str:
    return str(max(1, math.ceil(value))) if value is not None else "5"


def _maybe_view(body: Any) -> dict | None:
    return compute_view(body) if isinstance(body, dict) and body.get("properties") else None


# -- request parsing ------------------------------------------------------------------

def parse_compute(body: dict, name: str) -> dict:
    """Our flat compute request -> ARM's ComputeResource body, strictly validated."""
    kind = body.get("computeType")
    if kind not in COMPUTE_TYPES:
        raise bad_request("computeType", f"must be one of {', '.join(COMPUTE_TYPES)}")
    allowed = _CLUSTER_FIELDS if kind == "AmlCompute" else _INSTANCE_FIELDS
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        raise bad_request(unknown[0], f"unknown field for {kind}; expected this API's flat shape (fields: "
                                      f"{', '.join(sorted(allowed))}) or {ARM_SHAPE_HINT}")
    if kind == "AmlCompute" and not names.is_valid("cluster name", name):
        raise bad_request("name", "a compute cluster name must be 2-16 letters, digits or '-', starting with a "
                                  "letter and ending with a letter or digit")
    if kind == "ComputeInstance" and not names.is_valid("instance name", name):
        raise bad_request("name", "a compute instance name must be 3-24 letters, digits or '-', starting with a "
                                  "letter, not ending in '-' or '-<digits>'")
    location = body.get("location")
    if not isinstance(location, str) or not names.is_valid("region", location):
        raise bad_request("location", "is required: the workspace's Azure region, such as westeurope")
    vm_size = body.get("vmSize")
    if not isinstance(vm_size, str) or not _VM_SIZE.fullmatch(vm_size):
        raise bad_request("vmSize", "is required: a VM size such as STANDARD_DS3_V2")
    props: dict[str, Any] = {"vmSize": vm_size}
    if "subnetId" in body:
        subnet = body["subnetId"]
        if not isinstance(subnet, str) or not _SUBNET_ID.fullmatch(subnet):
            raise bad_request("subnetId", "must be a subnet resource id "
                                          "(/subscriptions/.../virtualNetworks/<vnet>/subnets/<subnet>)")
        props["subnet"] = {"id": subnet}
    if "enableNodePublicIp" in body:
        props["enableNodePublicIp"] = _bool(body, "enableNodePublicIp")
    if kind == "AmlCompute":
        props["vmPriority"] = _choice(body, "vmPriority", ("Dedicated", "LowPriority"), "Dedicated")
        if "scaleSettings" not in body:
            raise bad_request("scaleSettings", "is required for AmlCompute")
        props["scaleSettings"] = parse_scale_settings(body["scaleSettings"])
        if "remoteLoginPortPublicAccess" in body:
            props["remoteLoginPortPublicAccess"] = _choice(body, "remoteLoginPortPublicAccess",
                                                           ("Enabled", "Disabled", "NotSpecified"), None)
        if "adminUserName" in body or "adminUserSshPublicKey" in body:
            user = body.get("adminUserName")
            key = body.get("adminUserSshPublicKey")
            if not isinstance(user, str) or not _ADMIN_USER.fullmatch(user):
                raise bad_request("adminUserName", "must be a Linux user name (1-32 of a-z 0-9 _ -)")
            if not isinstance(key, str) or not _SSH_KEY.fullmatch(key):
                raise bad_request("adminUserSshPublicKey", "must be an SSH public key (ssh-rsa, ssh-ed25519 or ecdsa)")
            props["userAccountCredentials"] = {"adminUserName": user, "adminUserSshPublicKey": key.strip()}
    else:
        ssh: dict[str, Any] = {}
        if "sshPublicAccess" in body:
            ssh["sshPublicAccess"] = _choice(body, "sshPublicAccess", ("Enabled", "Disabled"), None)
        if "sshPublicKey" in body:
            key = body["sshPublicKey"]
            if not isinstance(key, str) or not _SSH_KEY.fullmatch(key):
                raise bad_request("sshPublicKey", "must be an SSH public key (ssh-rsa, ssh-ed25519 or ecdsa)")
            ssh["adminPublicKey"] = key.strip()
        if ssh:
            props["sshSettings"] = ssh
        if "applicationSharingPolicy" in body:
            props["applicationSharingPolicy"] = _choice(body, "applicationSharingPolicy", ("Personal", "Shared"), None)
        if "assignedUserObjectId" in body or "assignedUserTenantId" in body:
            user = {}
            for field, key in (("assignedUserObjectId", "objectId"), ("assignedUserTenantId", "tenantId")):
                value = body.get(field)
                if not isinstance(value, str) or not _GUID.fullmatch(value):
                    raise bad_request(field, "must be a GUID (both assignedUserObjectId and assignedUserTenantId)")
                user[key] = value
            props["computeInstanceAuthorizationType"] = "personal"
            props["personalComputeInstanceSettings"] = {"assignedUser": user}
    properties: dict[str, Any] = {"computeType": kind, "properties": props}
    if "description" in body:
        description = body["description"]
        if not isinstance(description, str) or len(description) > 1000:
            raise bad_request("description", "must be a string of at most 1000 characters")
        properties["description"] = description
    doc: dict[str, Any] = {"location": location, "properties": properties}
    if "tags" in body:
        doc["tags"] = _tags(body["tags"])
    return doc


def parse_scale_settings(value: Any) -> dict:
    if not isinstance(value, dict):
        raise bad_request("scaleSettings", "must be an object with minNodeCount, maxNodeCount and "
                                           "nodeIdleTimeBeforeScaleDown")
    reject_unknown(value, {"minNodeCount", "maxNodeCount", "nodeIdleTimeBeforeScaleDown"}, "scaleSettings.")
    scale: dict[str, Any] = {}
    maximum = _whole(value.get("maxNodeCount"))
    if not _is_int(maximum) or not 1 <= maximum <= MAX_NODES:
        raise bad_request("scaleSettings.maxNodeCount", f"is required: a whole number from 1 to {MAX_NODES}")
    minimum = _whole(value.get("minNodeCount", 0))
    if not _is_int(minimum) or not 0 <= minimum <= maximum:
        raise bad_request("scaleSettings.minNodeCount", "must be a whole number from 0 to maxNodeCount")
    scale.update(minNodeCount=minimum, maxNodeCount=maximum)
    if "nodeIdleTimeBeforeScaleDown" in value:
        idle = value["nodeIdleTimeBeforeScaleDown"]
        if not isinstance(idle, str) or not _DURATION.fullmatch(idle):
            raise bad_request("scaleSettings.nodeIdleTimeBeforeScaleDown",
                              "must be an ISO-8601 duration such as PT120S or PT5M")
        scale["nodeIdleTimeBeforeScaleDown"] = idle
    return scale


def _whole(value: Any) -> Any:
    """2.0 as 2: JSON Schema counts it an integer, so the API does too."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bool(body: dict, field: str) -> bool:
    value = body[field]
    if not isinstance(value, bool):
        raise bad_request(field, "must be true or false")
    return value


def _choice(body: dict, field: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = body.get(field, default)
    if value not in allowed:
        raise bad_request(field, f"must be one of {', '.join(allowed)}")
    return value


def _tags(value: Any) -> dict:
    if not isinstance(value, dict) or len(value) > 50:
        raise bad_request("tags", "must be an object of at most 50 string values")
    for key, item in value.items():
        if not _TAG_KEY.fullmatch(key) or not isinstance(item, str) or len(item) > 256:
            raise bad_request("tags", "keys must be 1-512 characters without < > % & \\ ? /, values strings of "
                                      "at most 256 characters")
    return dict(value)


# -- response mapping -----------------------------------------------------------------

def compute_view(raw: dict) -> dict:
    props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
    inner = props.get("properties") if isinstance(props.get("properties"), dict) else {}
    scale = inner.get("scaleSettings") if isinstance(inner.get("scaleSettings"), dict) else None
    counts = inner.get("nodeStateCounts") if isinstance(inner.get("nodeStateCounts"), dict) else None
    ssh = inner.get("sshSettings") if isinstance(inner.get("sshSettings"), dict) else {}
    subnet = inner.get("subnet") if isinstance(inner.get("subnet"), dict) else {}
    last = inner.get("lastOperation") if isinstance(inner.get("lastOperation"), dict) else None
    return {
        "name": raw.get("name"),
        "id": raw.get("id"),
        "location": raw.get("location"),
        "computeType": props.get("computeType"),
        "provisioningState": props.get("provisioningState"),
        "description": props.get("description"),
        "createdOn": props.get("createdOn"),
        "modifiedOn": props.get("modifiedOn"),
        "isAttached": props.get("isAttachedCompute"),
        "vmSize": inner.get("vmSize"),
        "vmPriority": inner.get("vmPriority"),
        "subnetId": subnet.get("id"),
        "enableNodePublicIp": inner.get("enableNodePublicIp"),
        "scaleSettings": None if scale is None else {
            "minNodeCount": scale.get("minNodeCount"),
            "maxNodeCount": scale.get("maxNodeCount"),
            "nodeIdleTimeBeforeScaleDown": scale.get("nodeIdleTimeBeforeScaleDown"),
        },
        "remoteLoginPortPublicAccess": inner.get("remoteLoginPortPublicAccess"),
        "allocationState": inner.get("allocationState"),
        "currentNodeCount": inner.get("currentNodeCount"),
        "targetNodeCount": inner.get("targetNodeCount"),
        "nodeStateCounts": None if counts is None else {
            key: counts.get(f"{key}NodeCount")
            for key in ("idle", "running", "preparing", "unusable", "leaving", "preempted")
        },
        "state": inner.get("state"),
        "sshPublicAccess": ssh.get("sshPublicAccess"),
        "sshAdminUserName": ssh.get("adminUserName"),
        "sshPort": ssh.get("sshPort"),
        "lastOperation": None if last is None else {
            "name": last.get("operationName"),
            "status": last.get("operationStatus"),
            "time": last.get("operationTime"),
        },
        "errors": [e for e in map(aml_error_view, _list(inner.get("errors")) or _list(props.get("provisioningErrors")))
                   if e],
        "tags": raw.get("tags") or {},
    }


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def node_view(raw: dict) -> dict:
    return {key: raw.get(key) for key in ("nodeId", "privateIpAddress", "publicIpAddress", "port", "nodeState",
                                          "runId")}
