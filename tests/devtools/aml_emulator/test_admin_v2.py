"""The AML v2 admin API under /_emulator/: job outcomes, batch endpoints, schedules, jobs, v2 settings."""

from __future__ import annotations

import requests

from tests.devtools.aml_emulator.support import CRON, command_job


def test_job_outcomes_are_set_cleared_and_listed_over_the_admin_api(aml, arm):
    base = f"{aml.base_url}/_emulator/job-outcomes"
    put = requests.put(f"{base}/nightly", json={"status": "Failed", "durationSeconds": 0}, timeout=5)
    assert put.json()["error"] == {"code": "UserError", "message": "Emulated job failure."}
    arm.put_job("failing", command_job(aml))
    assert arm.wait_for_job("failing", {"Failed"})[0]["properties"]["status"] == "Failed"
    assert [r["experimentName"] for r in requests.get(base, timeout=5).json()] == ["nightly"]
    assert requests.delete(f"{base}/nightly", timeout=5).status_code == 200
    assert requests.delete(f"{base}/nightly", timeout=5).status_code == 404
    assert requests.put(f"{base}/nightly", json={"status": "Maybe"}, timeout=5).status_code == 400
    assert requests.put(f"{base}/nightly", json={"colour": "red"}, timeout=5).status_code == 400


def test_the_admin_api_seeds_lists_and_removes_endpoints(aml):
    base = f"{aml.base_url}/_emulator/batch-endpoints"
    put = requests.put(f"{base}/score-batch", json={"deployments": ["blue", "green"], "defaultDeployment": "green",
                                                    "outcome": "Failed"}, timeout=5)
    assert put.json()["properties"]["defaults"]["deploymentName"] == "green"
    [listed] = requests.get(base, timeout=5).json()
    assert listed["emulator"]["outcome"] == "Failed" and listed["emulator"]["deployments"] == ["blue", "green"]
    assert requests.put(f"{base}/x", json={"colour": "red"}, timeout=5).status_code == 400
    assert requests.put(f"{base}/x", json={"defaultDeployment": "red"}, timeout=5).status_code == 400
    assert requests.delete(f"{base}/score-batch", timeout=5).status_code == 200
    assert requests.delete(f"{base}/score-batch", timeout=5).status_code == 404


def test_the_admin_api_seeds_lists_and_removes_schedules(aml):
    base = f"{aml.base_url}/_emulator/schedules"
    put = requests.put(f"{base}/nightly", json={"properties": CRON}, timeout=5)
    assert put.status_code == 200 and put.json()["properties"]["trigger"]["expression"] == "0 2 * * *"
    assert [s["name"] for s in requests.get(base, timeout=5).json()] == ["nightly"]
    assert requests.put(f"{base}/x", json=CRON, timeout=5).status_code == 400
    assert requests.put(f"{base}/x", json={"properties": {"trigger": {}}}, timeout=5).status_code == 400
    assert requests.delete(f"{base}/nightly", timeout=5).status_code == 200
    assert requests.delete(f"{base}/nightly", timeout=5).status_code == 404


def test_the_jobs_view_lists_every_v2_job(aml, arm):
    arm.put_job("cmd-1", command_job(aml))
    [job] = requests.get(f"{aml.base_url}/_emulator/jobs", timeout=5).json()
    assert (job["name"], job["properties"]["jobType"]) == ("cmd-1", "Command")


def test_v2_settings_are_read_and_changed_over_http(aml):
    base = f"{aml.base_url}/_emulator/settings"
    settings = requests.get(base, timeout=5).json()
    assert (settings["duplicateJobPut"], settings["armPageSize"], settings["repeatabilityWindowSeconds"]) == (
        "update", 50, 86400.0)
    changed = requests.patch(base, json={"duplicateJobPut": "return-existing", "armPageSize": 3}, timeout=5).json()
    assert (changed["duplicateJobPut"], aml.arm_page_size) == ("return-existing", 3)
    assert requests.patch(base, json={"duplicateJobPut": "ignore"}, timeout=5).status_code == 400
    assert requests.patch(base, json={"duplicateJobPut": "conflict", "armPageSize": 0}, timeout=5).status_code == 400
    assert aml.duplicate_job_put == "return-existing"  # a bad body changes nothing
