"""Target kinds as a schedule carries them: what is accepted, what is refused and where."""

from datetime import datetime, timezone

import pytest

from shared.api.target_check import job_computes
from shared.scheduling import ScheduleError
from shared.scheduling.templating import SlotContext
from shared.targets import parse_target

SLOT = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
CTX = SlotContext(slot=SLOT, zone=timezone.utc, interval_start=None, schedule_id="s1", run_key="s1_x")


def job(**extra):
    return {"kind": "job", "job": {"jobType": "Command", **extra}}


def batch(**extra):
    return {"kind": "batchEndpoint", "endpointName": "score-batch", **extra}


@pytest.mark.parametrize("doc, field", [
    (job(displayName="{{slot:%Y}} {{nope}}"), "target.job.displayName"),
    (job(inputs={"a": {"jobInputType": "literal", "value": "{{nope}}"}}), "target.job.inputs.a.value"),
    (job(jobs={"step": {"args": ["{{nope}}"]}}), "target.job.jobs.step.args[0]"),
    (batch(inputs={"d": {"type": "uri_folder", "uri": "azureml://x/{{nope}}"}}), "target.inputs.d.uri"),
    (batch(outputs={"o": {"type": "uri_file", "uri": "{{slot:}}"}}), "target.outputs.o.uri"),
])
def test_unknown_placeholders_are_refused_where_they_are(doc, field):
    with pytest.raises(ScheduleError) as caught:
        parse_target(doc)
    assert caught.value.field == field


@pytest.mark.parametrize("doc, field", [
    ({"kind": "job"}, "target.job"),
    (job(jobType="Spark"), "target.job.jobType"),
    (job(status="Running"), "target.job.status"),
    (job(computeId="not a name!"), "target.job.computeId"),
    (job(jobs={"s": {"computeId": "bad/name"}}), "target.job.jobs.s.computeId"),
    (job(tags={"a": 1}), "target.job.tags"),
    ({"kind": "batchEndpoint"}, "target.endpointName"),
    (batch(endpointName="1abc"), "target.endpointName"),
    (batch(deployment="x"), "target.deployment"),
    (batch(inputs={"d": {"type": "mltable", "uri": "x"}}), "target.inputs.d.type"),
    (batch(inputs={"d": {"type": "literal"}}), "target.inputs.d.value"),
    (batch(inputs={"d": {"type": "uri_file", "uri": "x", "mode": "teleport"}}), "target.inputs.d.mode"),
    (batch(outputs={"o": {"type": "literal", "value": 1}}), "target.outputs.o.type"),
    (batch(pipelineId="x"), "target.pipelineId"),
])
def test_malformed_v2_targets_name_the_field(doc, field):
    with pytest.raises(ScheduleError) as caught:
        parse_target(doc)
    assert caught.value.field == field


def test_a_job_renders_every_string_and_keeps_everything_else():
    target = parse_target(job(displayName="score {{slot:%Y-%m-%d}}", resources={"instance_count": 2},
                              inputs={"flag": {"jobInputType": "literal", "value": True}}))
    rendered = target.rendered_job(CTX)
    assert rendered["displayName"] == "score 2026-11-22"
    assert rendered["resources"] == {"instance_count": 2} and rendered["inputs"]["flag"]["value"] is True


def test_overrides_of_a_manual_run_become_literal_inputs():
    target = parse_target(batch(inputs={"d": {"type": "uri_folder", "uri": "azureml://in/{{slot:%d}}"}}))
    params = target.rendered_parameters(CTX, {"threshold": 0.5})
    assert params["inputs"] == {"d": {"type": "uri_folder", "uri": "azureml://in/22"},
                                "threshold": {"type": "literal", "value": 0.5}}


def test_experiment_defaults_follow_aml():
    assert parse_target(job()).experiment() == "Default"
    assert parse_target(batch()).experiment() == "score-batch"
    assert parse_target(batch(experimentName="nightly")).experiment() == "nightly"


def test_v2_targets_round_trip_through_their_stored_form():
    for doc in (job(computeId="azureml:cpu-cluster", inputs={}), batch(deployment="blue", inputs={}, outputs={})):
        target = parse_target(doc)
        assert parse_target(target.to_dict()) == target


def test_every_compute_a_job_names_is_checked_once():
    target = parse_target(job(
        computeId="/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
                  "/computes/cpu-cluster",
        settings={"default_compute": "azureml:cpu-cluster"}, jobs={"a": {"computeId": "gpu-cluster"}}))
    assert job_computes(target.job) == [("target.job.computeId", "cpu-cluster"),
                                        ("target.job.jobs.a.computeId", "gpu-cluster")]


def test_amls_own_expressions_pass_through_untouched():
    target = parse_target(job(command="python score.py --data ${{inputs.data}} --name ${{name}} --day {{slot:%d}}",
                              jobs={"s": {"inputs": {"x": "${{parent.inputs.day}}"}}}))
    rendered = target.rendered_job(CTX)
    assert rendered["command"] == "python score.py --data ${{inputs.data}} --name ${{name}} --day 22"
    assert rendered["jobs"]["s"]["inputs"]["x"] == "${{parent.inputs.day}}"
