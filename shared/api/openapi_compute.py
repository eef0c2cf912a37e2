"""The OpenAPI component schemas of the compute routes: cluster and instance requests in the
app's own shape and in AML's ARM ComputeResource shape, and the answers.

Patterns come from the code that validates (`shared.api.compute`), so the document and
the handlers cannot drift apart.
"""

from __future__ import annotations

from shared.api import compute as compute_rules
from shared.api.openapi_schemas import _AML_ERROR, _RAW, ANY_OBJECT, GUID, closed, integer, nullable, ref, string

_TAGS = {"type": "object", "maxProperties": 50, "propertyNames": {"pattern": compute_rules.TAG_KEY},
         "additionalProperties": string(maxLength=256)}
_SSH_KEY = string("ssh-rsa, ssh-ed25519 or ecdsa public key", pattern=compute_rules.SSH_KEY)
_COMMON_COMPUTE = {
    "location": string("the workspace's region, e.g. westeurope", pattern=compute_rules.REGION),
    "description": string(maxLength=1000),
    "vmSize": string("e.g. STANDARD_DS3_V2", pattern=compute_rules.VM_SIZE),
    "subnetId": string("subnet resource id", pattern=compute_rules.SUBNET_ID),
    "enableNodePublicIp": {"type": "boolean"},
    "tags": _TAGS,
}
_CLUSTER = {
    "vmPriority": string(enum=["Dedicated", "LowPriority"]),
    "scaleSettings": {"$ref": "#/components/schemas/ScaleSettings"},
    "remoteLoginPortPublicAccess": string(enum=["Enabled", "Disabled", "NotSpecified"]),
    "adminUserName": string("Linux user name; with adminUserSshPublicKey", pattern=compute_rules.ADMIN_USER),
    "adminUserSshPublicKey": {**_SSH_KEY, "description": "passwords are refused; with adminUserName"},
}
_INSTANCE = {
    "sshPublicAccess": string(enum=["Enabled", "Disabled"]),
    "sshPublicKey": _SSH_KEY,
    "applicationSharingPolicy": string(enum=["Personal", "Shared"]),
    "assignedUserObjectId": string("with assignedUserTenantId", pattern=GUID),
    "assignedUserTenantId": string("with assignedUserObjectId", pattern=GUID),
}
_ARM_INNER = closed({
    **{key: value for key, value in _CLUSTER.items() if not key.startswith("admin")},
    "vmSize": _COMMON_COMPUTE["vmSize"], "enableNodePublicIp": {"type": "boolean"},
    "applicationSharingPolicy": _INSTANCE["applicationSharingPolicy"],
    "subnet": closed({"id": _COMMON_COMPUTE["subnetId"]}),
    "userAccountCredentials": ref("ArmCredentials"),
    "sshSettings": closed({"sshPublicAccess": _INSTANCE["sshPublicAccess"], "adminPublicKey": _SSH_KEY,
                           "adminUserName": string(), "sshPort": integer()}),
    "personalComputeInstanceSettings": closed({"assignedUser": closed(
        {"objectId": string(pattern=GUID), "tenantId": string(pattern=GUID)}, ("objectId", "tenantId"))},
        ("assignedUser",)),
    "computeInstanceAuthorizationType": string(enum=["personal"]),
})

COMPUTE_SCHEMAS: dict[str, dict] = {
    "ScaleSettings": closed({
        "minNodeCount": integer(0, compute_rules.MAX_NODES, "at most maxNodeCount; default 0"),
        "maxNodeCount": integer(1, compute_rules.MAX_NODES),
        "nodeIdleTimeBeforeScaleDown": string("ISO-8601 duration, e.g. PT5M", pattern=compute_rules.DURATION),
    }, ("maxNodeCount",)),
    "ComputeInput": {"oneOf": [ref("ClusterInput"), ref("InstanceInput"), ref("ArmComputeInput")]},
    "ClusterInput": closed({"computeType": string(enum=["AmlCompute"]), **_COMMON_COMPUTE, **_CLUSTER},
                           ("computeType", "location", "vmSize", "scaleSettings"),
                           dependentRequired={"adminUserName": ["adminUserSshPublicKey"],
                                              "adminUserSshPublicKey": ["adminUserName"]}),
    "InstanceInput": closed({"computeType": string(enum=["ComputeInstance"]), **_COMMON_COMPUTE, **_INSTANCE},
                            ("computeType", "location", "vmSize"),
                            dependentRequired={"assignedUserObjectId": ["assignedUserTenantId"],
                                               "assignedUserTenantId": ["assignedUserObjectId"]}),
    "ArmCredentials": closed({"adminUserName": _CLUSTER["adminUserName"],
                              "adminUserSshPublicKey": _CLUSTER["adminUserSshPublicKey"]},
                             ("adminUserName", "adminUserSshPublicKey")),
    "ArmComputeInput": closed({
        "location": _COMMON_COMPUTE["location"], "tags": _TAGS,
        "subnet": closed({"id": _COMMON_COMPUTE["subnetId"]}), "userAccountCredentials": ref("ArmCredentials"),
        "properties": closed({"computeType": string(enum=["AmlCompute", "ComputeInstance"]),
                              "description": _COMMON_COMPUTE["description"], "properties": _ARM_INNER},
                             ("computeType",)),
    }, ("location", "properties"), description="ARM's own ComputeResource body, as AML's REST docs send it"),
    "ComputePatch": closed({"scaleSettings": ref("ScaleSettings")}, ("scaleSettings",)),
    "Compute": closed({
        "name": nullable(string()), "id": nullable(string()), "location": nullable(string()),
        "computeType": nullable(string()), "provisioningState": nullable(string()),
        "description": nullable(string()), "createdOn": nullable(string()), "modifiedOn": nullable(string()),
        "isAttached": nullable({"type": "boolean"}), "vmSize": nullable(string()),
        "vmPriority": nullable(string()), "subnetId": nullable(string()),
        "enableNodePublicIp": nullable({"type": "boolean"}),
        "scaleSettings": nullable(closed({"minNodeCount": nullable(integer()), "maxNodeCount": nullable(integer()),
                                          "nodeIdleTimeBeforeScaleDown": nullable(string())})),
        "remoteLoginPortPublicAccess": nullable(string()), "allocationState": nullable(string()),
        "currentNodeCount": nullable(integer()), "targetNodeCount": nullable(integer()),
        "nodeStateCounts": nullable({"type": "object", "additionalProperties": nullable(integer())}),
        "state": nullable(string("ComputeInstance state, e.g. Running, Stopped")),
        "sshPublicAccess": nullable(string()), "sshAdminUserName": nullable(string()),
        "sshPort": nullable(integer()),
        "lastOperation": nullable(closed({"name": nullable(string()), "status": nullable(string()),
                                          "time": nullable(string())})),
        "errors": {"type": "array", "items": _AML_ERROR},
        "tags": ANY_OBJECT,
        **_RAW,
    }),
    "ComputeList": closed({"value": {"type": "array", "items": ref("Compute")}}, ("value",)),
    "Accepted": closed({
        "status": string(enum=["Accepted"]),
        "operation": nullable(closed({"id": string(), "status": string(), "href": string()})),
        "compute": nullable(ref("Compute")),
        **_RAW,
    }, ("status", "operation")),
    "Operation": closed({
        "id": string(), "status": string(enum=["InProgress", "Succeeded", "Failed", "Canceled"]),
        "error": _AML_ERROR, **_RAW,
    }, ("id", "status")),
    "NodeList": closed({"computeName": string(), "value": {"type": "array", "items": closed({
        "nodeId": nullable(string()), "privateIpAddress": nullable(string()), "publicIpAddress": nullable(string()),
        "port": nullable({"type": "number"}), "nodeState": nullable(string()), "runId": nullable(string()),
        **_RAW})}}, ("computeName", "value")),
}
