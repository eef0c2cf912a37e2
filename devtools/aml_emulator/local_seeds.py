"""What the local stack's workspace holds for AML v2 (``--local-seeds``).

A cluster to run on, a batch endpoint to invoke and one AML v2 schedule to import:

    compute          cpu-cluster           AmlCompute
    batch endpoint   score-batch           deployments: blue (the default)
    schedule         nightly-batch-score   Cron "0 2 * * *" in W. Europe Standard Time,
                                           InvokeBatchEndpoint on score-batch
"""

from __future__ import annotations

from typing import Any

LOCAL_COMPUTE = "cpu-cluster"
LOCAL_BATCH_ENDPOINT = "score-batch"
LOCAL_BATCH_DEPLOYMENT = "blue"
LOCAL_SCHEDULE = "nightly-batch-score"


def local_schedule_properties(workspace_path: str) -> dict[str, Any]:
    """The ARM properties of the schedule the local workspace offers for import."""
    endpoint_id = f"/{workspace_path}/batchEndpoints/{LOCAL_BATCH_ENDPOINT}"
    return {
        "displayName": "Nightly batch scoring",
        "description": "Scores the day's data with the default deployment of score-batch.",
        "isEnabled": True,
        "tags": {},
        "properties": {},
        "trigger": {
            "triggerType": "Cron",
            "expression": "0 2 * * *",
            "timeZone": "W. Europe Standard Time",
            "startTime": "2026-01-01T00:00:00",
        },
        "action": {
            "actionType": "InvokeBatchEndpoint",
            # The spec leaves this object open; it names the endpoint and carries an
            # invocation body as the scoring URI takes it.
            "endpointInvocationDefinition": {
                "endpointId": endpoint_id,
                "properties": {
                    "inputData": {"input_data": {
                        "jobInputType": "UriFolder",
                        "uri": "azureml://datastores/workspaceblobstore/paths/scoring/input/"}},
                    "outputData": {"score": {
                        "jobOutputType": "UriFolder",
                        "uri": "azureml://datastores/workspaceblobstore/paths/scoring/output/"}},
                    "properties": {"experimentName": "nightly-batch-score"},
                },
            },
        },
    }


def seed_local_workspace(emulator: Any) -> None:
    """Seed ``emulator`` (an ``AmlEmulator``) with the local workspace's v2 resources."""
    emulator.seed_compute(LOCAL_COMPUTE, "AmlCompute")
    emulator.seed_batch_endpoint(LOCAL_BATCH_ENDPOINT, [LOCAL_BATCH_DEPLOYMENT], LOCAL_BATCH_DEPLOYMENT,
                                 compute=LOCAL_COMPUTE)
    emulator.seed_schedule(LOCAL_SCHEDULE, local_schedule_properties(emulator.workspace_path))
