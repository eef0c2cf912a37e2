"""The local stack's workspace: a cluster, a batch endpoint with a default deployment, a schedule to import."""

from __future__ import annotations

from devtools.aml_emulator.local_seeds import seed_local_workspace
from tests.devtools.aml_emulator.support import ML, minted_token


def test_the_local_workspace_holds_what_make_run_needs(aml, arm):
    seed_local_workspace(aml)
    cluster = arm.get("computes", "cpu-cluster").json()
    assert cluster["properties"]["computeType"] == "AmlCompute"
    endpoint = arm.get("batchEndpoints", "score-batch").json()["properties"]
    assert endpoint["defaults"]["deploymentName"] == "blue"
    assert endpoint["scoringUri"] == f"{aml.base_url}/batch/score-batch/jobs"
    schedule = arm.get("schedules", "nightly-batch-score").json()["properties"]
    assert schedule["trigger"]["triggerType"] == "Cron"
    assert schedule["trigger"]["timeZone"] == "W. Europe Standard Time"
    action = schedule["action"]
    assert action["actionType"] == "InvokeBatchEndpoint"
    assert action["endpointInvocationDefinition"]["endpointId"].endswith("/batchEndpoints/score-batch")


def test_the_scheduled_invocation_body_is_one_the_scoring_uri_takes(aml, arm):
    seed_local_workspace(aml)
    [schedule] = aml.schedules()
    body = schedule["properties"]["action"]["endpointInvocationDefinition"]
    answer = arm.session.post(aml.scoring_uri("score-batch"), json={"properties": body["properties"]},
                              headers={"Authorization": f"Bearer {minted_token(ML)}"}, timeout=5)
    assert answer.status_code == 200
    assert arm.get("jobs", answer.json()["name"]).json()["properties"]["experimentName"] == "nightly-batch-score"

