import copy
from datetime import datetime, timezone

import pytest

from shared.scheduling import ScheduleError
from shared.schedules import merge_patch, parse_schedule

PIPELINE = "11111111-2222-3333-4444-555555555555"
VALID = {
    "id": "nightly-scoring",
    "description": "Score yesterday's orders",
    "trigger": {"cron": "0 30 2 * * *", "timeZone": "Europe/Berlin"},
    "target": {"kind": "pipeline", "pipelineId": PIPELINE, "experimentName": "batch_scoring",
               "parameterAssignments": {"param_batch_size": 50, "scoring_date": "{{slot_local:%Y-%m-%d}}"}},
    "policy": {"concurrency": "Forbid", "misfire": "latest", "misfireGraceSeconds": 3600,
               "retry": {"maxAttempts": 3, "backoffSeconds": 60}},
}


def with_change(path, value):
    doc = copy.deepcopy(VALID)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


def test_valid_document_round_trips():
    d = parse_schedule(VALID)
    assert parse_schedule(d.to_dict()) == d
    assert d.enabled is True and d.policy.max_catchup == 10


def test_read_only_fields_from_a_previous_get_are_accepted():
    doc = {**VALID, "nextFireTime": "2026-01-01T00:00:00Z", "etag": "x", "lastSlot": None}
    assert parse_schedule(doc).id == "nightly-scoring"


def test_local_start_time_is_read_in_the_schedule_zone():
    d = parse_schedule(with_change(("trigger", "startTime"), "2026-12-01T02:30:00"))
    assert d.trigger.start_time == datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("path, value, field", [
    (("id",), "Bad/Id", "id"),
    (("id",), "it's", "id"),
    (("id",), "a" * 64, "id"),
    (("colour",), "blue", "colour"),
    (("trigger", "timezone"), "UTC", "trigger.timezone"),
    (("trigger", "cron"), "61 * * * *", "trigger.cron"),
    (("trigger", "cron"), KeyError, "trigger.cron"),
    (("trigger", "timeZone"), "Mars/Base", "trigger.timeZone"),
    (("trigger", "startTime"), "yesterday", "trigger.startTime"),
    (("target", "kind"), "notebook", "target.kind"),
    (("target", "pipelineId"), "../../x", "target.pipelineId"),
    (("target", "pipelineEndpointId"), PIPELINE, "target.pipelineEndpointId"),
    (("target", "pipelineVersion"), "1", "target.pipelineVersion"),
    (("target", "experimentName"), "a b", "target.experimentName"),
    (("target", "parameterAssignments"), {"x": "{{tomorrow}}"}, "target.parameterAssignments.x"),
    (("target", "dataPathAssignments"), {"in": {"DataStoreName": "ds"}}, "target.dataPathAssignments.in.RelativePath"),
    (("policy", "concurrency"), "forbid", "policy.concurrency"),
    (("policy", "misfire"), "never", "policy.misfire"),
    (("policy", "misfireGraceSeconds"), -1, "policy.misfireGraceSeconds"),
    (("policy", "retry", "maxAttempts"), True, "policy.retry.maxAttempts"),
    (("enabled",), "yes", "enabled"),
])
def test_invalid_fields_are_named(path, value, field):
    with pytest.raises(ScheduleError) as err:
        parse_schedule(with_change(path, value))
    assert err.value.field == field


def test_end_must_follow_start():
    doc = with_change(("trigger", "startTime"), "2026-12-02T00:00:00Z")
    doc["trigger"]["endTime"] = "2026-12-01T00:00:00Z"
    with pytest.raises(ScheduleError) as err:
        parse_schedule(doc)
    assert err.value.field == "trigger.endTime"


def test_url_id_must_match_body_id():
    with pytest.raises(ScheduleError):
        parse_schedule(VALID, schedule_id="other")
    assert parse_schedule({k: v for k, v in VALID.items() if k != "id"}, schedule_id="other").id == "other"


def test_merge_patch_follows_rfc7386():
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": None, "e": 3}, "d": [1]}) == {
        "a": {"c": 2, "e": 3}, "d": [1]}
