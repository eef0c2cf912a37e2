"""What an ARM job PUT must hold, and what a second PUT of the same name does in each mode.

The update mode follows the service's answer quoted in azure-sdk-for-python#47389 and
MicrosoftDocs/azure-docs#122250: mutable fields change, anything else is a UserError
with inner codes Immutable/JobPropertyImmutable.
"""

from __future__ import annotations

import pytest
import requests

from tests.devtools.aml_emulator.support import ML, assert_error_shape, command_job, compute_id, minted_token, \
    pipeline_job


def inner_codes(error: dict) -> list[str]:
    codes, inner = [], error.get("innerError")
    while inner:
        codes.append(inner["code"])
        inner = inner.get("innerError")
    return codes


@pytest.mark.parametrize("name, change, fragment", [
    ("slot:2026-11-22", {}, "name"),
    ("ok", {"jobType": "Sweep"}, "jobType"),
    ("ok", {"experimentName": "bad name!"}, "experimentName"),
    ("ok", {"jobs": {}}, "jobs"),
    ("ok", {"inputs": {"data": {"jobInputType": "uri_folder"}}}, "uri"),
    ("ok", {"inputs": {"n": {"jobInputType": "literal"}}}, "literal"),
    ("ok", {"outputs": {"o": {"jobOutputType": "literal"}}}, "jobOutputType"),
    ("ok", {"tags": {"n": 1}}, "tags"),
])
def test_a_pipeline_put_that_aml_would_refuse_is_a_400(aml, arm, name, change, fragment):
    error = assert_error_shape(arm.put_job(name, pipeline_job(aml) | change), 400)
    assert error["code"] == "UserError" and fragment in error["message"]
    assert aml.jobs() == []


@pytest.mark.parametrize("change", [{"command": " "}, {"environmentId": None}])
def test_a_command_job_needs_a_command_and_an_environment(aml, arm, change):
    assert_error_shape(arm.put_job("cmd", command_job(aml) | change), 400)


@pytest.mark.parametrize("where", ["computeId", "settings", "node"])
def test_every_compute_a_job_names_must_exist_in_the_workspace(aml, arm, where):
    props = pipeline_job(aml)
    missing = compute_id(aml, "gpu-cluster")
    if where == "computeId":
        props["computeId"] = missing
    elif where == "settings":
        props["settings"] = {"default_compute": missing}
    else:
        props["jobs"]["score"]["computeId"] = missing
    error = assert_error_shape(arm.put_job("p", props), 400)
    assert error["code"] == "UserError" and inner_codes(error) == ["NotFound", "ComputeNotFound"]
    other_workspace = compute_id(aml, "cpu-cluster").replace("ws-local", "ws-other")
    assert_error_shape(arm.put_job("p", pipeline_job(aml) | {"computeId": other_workspace}), 400)


def test_a_data_binding_compute_is_left_to_the_pipeline(aml, arm):
    props = pipeline_job(aml)
    props["jobs"]["score"]["computeId"] = "${{parent.inputs.compute}}"
    assert arm.put_job("p", props).status_code == 201


def test_jobs_need_the_arm_audience_and_an_api_version(aml, arm):
    denied = requests.put(arm.url("jobs", "p"), params=arm.params, json={"properties": pipeline_job(aml)},
                          headers={"Authorization": f"Bearer {minted_token(ML)}"}, timeout=5)
    assert assert_error_shape(denied, 401)["code"] == "InvalidAuthenticationTokenAudience"
    missing = arm.call("PUT", "jobs", "p", params={}, json={"properties": pipeline_job(aml)})
    assert assert_error_shape(missing, 400)["code"] == "MissingApiVersionParameter"


class TestSecondPutInUpdateMode:
    def test_the_same_body_again_answers_the_job_and_creates_nothing(self, aml, arm):
        first = arm.put_job("slot-1", pipeline_job(aml))
        again = arm.put_job("slot-1", pipeline_job(aml))
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"]
        assert [r["runId"] for r in aml.runs()] == ["slot-1"]

    def test_mutable_fields_change_and_properties_are_only_added_to(self, aml, arm):
        arm.put_job("slot-1", pipeline_job(aml, properties={"origin": "scheduler"}))
        updated = arm.put_job("slot-1", pipeline_job(aml, displayName="renamed", description="why", tags={"a": "b"},
                                                     properties={"extra": "1"}, isArchived=True)).json()
        props = updated["properties"]
        assert (props["displayName"], props["description"], props["tags"]) == ("renamed", "why", {"a": "b"})
        assert props["properties"] == {"origin": "scheduler", "extra": "1"} and props["isArchived"] is True

    @pytest.mark.parametrize("change", [
        {"inputs": {"data": {"jobInputType": "uri_folder", "uri": "azureml://datastores/blob/paths/other/"}}},
        {"experimentName": "elsewhere"},
        {"properties": {"origin": "someone else"}},
    ])
    def test_an_immutable_change_is_the_services_user_error(self, aml, arm, change):
        arm.put_job("slot-1", pipeline_job(aml, properties={"origin": "scheduler"}))
        error = assert_error_shape(arm.put_job("slot-1", pipeline_job(aml, properties={"origin": "scheduler"})
                                               | change), 400)
        assert error["code"] == "UserError" and "already exists" in error["message"]
        assert inner_codes(error) == ["Immutable", "JobPropertyImmutable"]
        assert arm.get("jobs", "slot-1").json()["properties"]["experimentName"] == "nightly"

    def test_echoed_server_fields_are_not_changes(self, aml, arm):
        created = arm.put_job("slot-1", pipeline_job(aml)).json()
        assert arm.put_job("slot-1", created["properties"]).status_code == 200


def test_conflict_mode_refuses_any_second_put_with_409(aml, arm):
    requests.patch(f"{aml.base_url}/_emulator/settings", json={"duplicateJobPut": "conflict"}, timeout=5)
    arm.put_job("slot-1", pipeline_job(aml))
    error = assert_error_shape(arm.put_job("slot-1", pipeline_job(aml)), 409)
    assert error["code"] == "UserError" and "already exists" in error["message"]
    assert len(aml.runs()) == 1


def test_return_existing_mode_answers_the_job_as_it_is_whatever_the_body(aml, arm):
    aml.duplicate_job_put = "return-existing"
    arm.put_job("slot-1", pipeline_job(aml))
    again = arm.put_job("slot-1", pipeline_job(aml, displayName="ignored", experimentName="elsewhere"))
    assert again.status_code == 200
    assert (again.json()["properties"]["displayName"], again.json()["properties"]["experimentName"]) == (
        "nightly pipeline", "nightly")
    assert len(aml.runs()) == 1


def test_a_v1_run_id_is_never_taken_over_by_a_job(aml, arm, client):
    run_id = client.submit().json()["Id"]
    assert_error_shape(arm.put_job(run_id, pipeline_job(aml)), 409)
    assert_error_shape(arm.get("jobs", run_id), 404)
