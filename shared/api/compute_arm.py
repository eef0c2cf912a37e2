"""ARM's own ComputeResource body, accepted by `PUT computes/{name}` beside the flat shape.

Users paste what AML's REST docs and sample scripts send:
`{"location", "properties": {"computeType", "description", "properties": {"vmSize", ...}}, "tags"}`.
It is translated to the flat shape and validated by the same rules, and any error names
the field as the caller wrote it (`properties.properties.scaleSettings.maxNodeCount`), so
nobody has to learn our spelling to fix their request.
"""

from __future__ import annotations

from typing import Any

from shared.api.http import ApiError, bad_request, renamed_fields

INNER = "properties.properties"
ARM_SHAPE_HINT = ('ARM\'s ComputeResource body: {"location", "properties": {"computeType", "description", '
                  '"properties": {"vmSize", "vmPriority", "scaleSettings", "subnet", ...}}, "tags"}')
_TOP = {"location", "properties", "tags", "subnet", "userAccountCredentials"}
_OUTER = {"computeType", "description", "properties"}
# Inner properties copied to the flat field of the same name.
_SAME_NAME = ("vmSize", "vmPriority", "scaleSettings", "remoteLoginPortPublicAccess", "enableNodePublicIp",
              "applicationSharingPolicy")
_NESTED = {"subnet", "userAccountCredentials", "sshSettings", "personalComputeInstanceSettings",
           "computeInstanceAuthorizationType"}
# Flat field -> where the caller wrote it in the ARM body, for error messages.
_ARM_PATH = {
    "computeType": "properties.computeType",
    "description": "properties.description",
    "subnetId": f"{INNER}.subnet.id",
    "adminUserName": f"{INNER}.userAccountCredentials.adminUserName",
    "adminUserSshPublicKey": f"{INNER}.userAccountCredentials.adminUserSshPublicKey",
    "sshPublicAccess": f"{INNER}.sshSettings.sshPublicAccess",
    "sshPublicKey": f"{INNER}.sshSettings.adminPublicKey",
    "assignedUserObjectId": f"{INNER}.personalComputeInstanceSettings.assignedUser.objectId",
    "assignedUserTenantId": f"{INNER}.personalComputeInstanceSettings.assignedUser.tenantId",
    **{name: f"{INNER}.{name}" for name in _SAME_NAME},
}


def is_arm_shape(body: dict) -> bool:
    """The flat shape has no `properties` field, so its presence tells the shapes apart."""
    return "properties" in body


def flat_from_arm(body: dict) -> dict:
    """The flat request equivalent to an ARM ComputeResource body (validated afterwards)."""
    _known(body, _TOP, "")
    outer = _object(body["properties"], "properties")
    _known(outer, _OUTER, "properties.")
    inner = _object(outer.get("properties", {}), INNER)
    _known(inner, set(_SAME_NAME) | _NESTED, f"{INNER}.")
    flat: dict[str, Any] = {key: outer[key] for key in ("computeType", "description") if key in outer}
    flat.update({key: body[key] for key in ("location", "tags") if key in body})
    flat.update({key: inner[key] for key in _SAME_NAME if key in inner})
    # Older samples (api-version 2019-06-01 scripts) put subnet and credentials beside
    # `properties`; the current shape nests them in properties.properties. Both mean the same.
    for key in ("subnet", "userAccountCredentials"):
        if key in body and key in inner:
            raise bad_request(key, f"given twice: at the top level and in {INNER}; keep one")
    subnet = inner.get("subnet", body.get("subnet"))
    if subnet is not None:
        where = f"{INNER}.subnet" if "subnet" in inner else "subnet"
        _known(_object(subnet, where), {"id"}, f"{where}.")
        if "id" in subnet:
            flat["subnetId"] = subnet["id"]
    credentials = inner.get("userAccountCredentials", body.get("userAccountCredentials"))
    if credentials is not None:
        where = f"{INNER}.userAccountCredentials" if "userAccountCredentials" in inner else "userAccountCredentials"
        _known(_object(credentials, where), {"adminUserName", "adminUserSshPublicKey"}, f"{where}.")
        flat.update({key: credentials[key] for key in ("adminUserName", "adminUserSshPublicKey") if key in credentials})
    if "sshSettings" in inner:
        ssh = _object(inner["sshSettings"], f"{INNER}.sshSettings")
        _known(ssh, {"sshPublicAccess", "adminPublicKey", "adminUserName", "sshPort"}, f"{INNER}.sshSettings.")
        if "sshPublicAccess" in ssh:
            flat["sshPublicAccess"] = ssh["sshPublicAccess"]
        if "adminPublicKey" in ssh:
            flat["sshPublicKey"] = ssh["adminPublicKey"]
    if "personalComputeInstanceSettings" in inner:
        personal = _object(inner["personalComputeInstanceSettings"], f"{INNER}.personalComputeInstanceSettings")
        _known(personal, {"assignedUser"}, f"{INNER}.personalComputeInstanceSettings.")
        user = _object(personal.get("assignedUser"), f"{INNER}.personalComputeInstanceSettings.assignedUser")
        _known(user, {"objectId", "tenantId"}, f"{INNER}.personalComputeInstanceSettings.assignedUser.")
        flat["assignedUserObjectId"] = user.get("objectId")
        flat["assignedUserTenantId"] = user.get("tenantId")
    if inner.get("computeInstanceAuthorizationType", "personal") != "personal":
        raise bad_request(f"{INNER}.computeInstanceAuthorizationType", "must be personal (the only value ARM has)")
    return flat


def with_arm_field(error: ApiError) -> ApiError:
    """The same error, naming the field where the caller wrote it in the ARM body."""
    return renamed_fields(error, _arm_path)


def _arm_path(field: str) -> str:
    head, _, rest = field.partition(".")
    base = _ARM_PATH.get(head)
    if base is None:
        return field
    return f"{base}.{rest}" if rest else base


def _object(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise bad_request(field, "must be an object")
    return value


def _known(doc: dict, allowed: set[str], prefix: str) -> None:
    unknown = sorted(k for k in doc if k not in allowed)
    if unknown:
        raise bad_request(f"{prefix}{unknown[0]}", f"unknown field in {ARM_SHAPE_HINT}; allowed here: "
                                                  f"{', '.join(sorted(allowed))}")
