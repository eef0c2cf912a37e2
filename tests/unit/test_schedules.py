import copy
from datetime import datetime, timedelta, timezone

import pytest

from shared.scheduling import ScheduleError
from shared.scheduling.jitter import jitter_offset
from shared.scheduling.recurrence import RecurrenceTrigger
from shared.scheduling.triggers import CronTrigger
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
    doc = {**VALID, "nextFireTime": "2026-01-01T00:00:00Z", "etag": "x", "lastSlot": None,
           "consecutiveFailures": 2, "pausedReason": None, "pausedAt": None,
           "createdBy": {"id": None, "name": "function key"}, "updatedBy": None, "health": "failing",
           "lastRun": {"runKey": "k"}, "successRate": 0.5, "recentRuns": 2, "failedInARow": 1}
    assert parse_schedule(doc) == parse_schedule(VALID)


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
    (("trigger", "cron"), KeyError, "trigger"),
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
    (("policy", "sla"), 60, "policy.sla"),
    (("policy", "sla"), {}, "policy.sla.completeWithinMinutes"),
    (("policy", "sla"), {"completeWithinMinutes": 0}, "policy.sla.completeWithinMinutes"),
    (("policy", "sla"), {"completeWithinMinutes": 10081}, "policy.sla.completeWithinMinutes"),
    (("policy", "sla"), {"completeWithinMinutes": "90"}, "policy.sla.completeWithinMinutes"),
    (("policy", "sla"), {"completeWithinMinutes": 90, "warnAfter": 5}, "policy.sla.warnAfter"),
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


# -- trigger kinds, time zones, jitter --------------------------------------------------------

RECURRENCE = {"recurrence": {"frequency": "Week", "interval": 2, "weekDays": ["Monday"], "hours": [6],
                             "minutes": [30]},
              "timeZone": "W. Europe Standard Time", "startTime": "2026-06-01T00:00:00"}


def with_trigger(trigger):
    return {**copy.deepcopy(VALID), "trigger": trigger}


def test_recurrence_trigger_round_trips_and_builds():
    d = parse_schedule(with_trigger(RECURRENCE))
    assert d.trigger.cron is None and d.trigger.recurrence.frequency == "Week"
    assert parse_schedule(d.to_dict()) == d
    assert d.to_dict()["trigger"] == {
        "recurrence": {"frequency": "Week", "interval": 2, "hours": [6], "minutes": [30], "weekDays": ["Monday"]},
        "timeZone": "W. Europe Standard Time", "startTime": "2026-05-31T22:00:00Z", "endTime": None,
        "jitterSeconds": 0}
    trigger = d.trigger.build()
    assert isinstance(trigger, RecurrenceTrigger)
    assert trigger.next_after(datetime(2026, 5, 1, tzinfo=timezone.utc)) == datetime(2026, 6, 1, 4, 30,
                                                                                      tzinfo=timezone.utc)


def test_cron_trigger_still_builds_a_cron_trigger():
    d = parse_schedule(VALID)
    assert isinstance(d.trigger.build(), CronTrigger)
    assert "recurrence" not in d.to_dict()["trigger"]


@pytest.mark.parametrize("trigger", [
    {"timeZone": "UTC"},
    {"cron": "0 * * * *", "recurrence": {"frequency": "Hour", "interval": 1}},
    {"cron": None, "recurrence": None},
])
def test_exactly_one_of_cron_or_recurrence(trigger):
    with pytest.raises(ScheduleError) as err:
        parse_schedule(with_trigger(trigger))
    assert err.value.field == "trigger"


def test_merge_patch_switches_trigger_kind():
    stored = parse_schedule(VALID).to_dict()
    patched = merge_patch(stored, {"trigger": {"cron": None, "recurrence": {"frequency": "Day", "interval": 1}}})
    assert parse_schedule(patched).trigger.recurrence.frequency == "Day"
    with pytest.raises(ScheduleError) as err:
        parse_schedule(merge_patch(stored, {"trigger": {"recurrence": {"frequency": "Day", "interval": 1}}}))
    assert err.value.field == "trigger"


@pytest.mark.parametrize("recurrence, field", [
    ({"frequency": "Day", "interval": 1, "hours": [1, 25]}, "trigger.recurrence.hours[1]"),
    ({"frequency": "Hour", "interval": 1, "minutes": [5]}, "trigger.recurrence.minutes"),
    ({"frequency": "Day", "interval": 1, "weekDays": ["Monday"]}, "trigger.recurrence.weekDays"),
    ({"frequency": "Fortnight", "interval": 1}, "trigger.recurrence.frequency"),
    # Every 12 months from April: April never has a 31st.
    ({"frequency": "Month", "interval": 12, "monthDays": [31]}, "trigger.recurrence.monthDays"),
])
def test_recurrence_errors_name_the_field(recurrence, field):
    trigger = {"recurrence": recurrence, "startTime": "2026-04-10T00:00:00Z"}
    with pytest.raises(ScheduleError) as err:
        parse_schedule(with_trigger(trigger))
    assert err.value.field == field


def test_windows_zone_name_is_kept_and_resolved_on_use():
    d = parse_schedule(with_trigger({"cron": "0 30 2 * * *", "timeZone": "Pacific Standard Time",
                                     "startTime": "2026-07-01T00:00:00"}))
    assert d.to_dict()["trigger"]["timeZone"] == "Pacific Standard Time"
    assert str(d.trigger.zone) == "America/Los_Angeles"
    assert d.trigger.start_time == datetime(2026, 7, 1, 7, 0, tzinfo=timezone.utc)  # PDT, UTC-7


def test_unknown_zone_names_the_field():
    with pytest.raises(ScheduleError) as err:
        parse_schedule(with_trigger({"cron": "0 * * * *", "timeZone": "Atlantis Standard Time"}))
    assert err.value.field == "trigger.timeZone"


@pytest.mark.parametrize("value", [-1, 3601, 1.5, "60", True])
def test_jitter_seconds_is_validated(value):
    with pytest.raises(ScheduleError) as err:
        parse_schedule(with_trigger({"cron": "0 * * * *", "jitterSeconds": value}))
    assert err.value.field == "trigger.jitterSeconds"


def test_jitter_is_stored_and_gives_the_schedule_offset():
    d = parse_schedule(with_trigger({"cron": "0 * * * *", "jitterSeconds": 600}))
    assert d.trigger.jitter_seconds == 600 and d.to_dict()["trigger"]["jitterSeconds"] == 600
    assert d.trigger.jitter(d.id) == jitter_offset("nightly-scoring", 600)
    assert parse_schedule(VALID).trigger.jitter(d.id) == timedelta(0)


def test_alerts_round_trip_with_the_webhook_in_full_and_null_means_none():
    webhook = "https://hooks.slack.com/services/T0000/B0000/XXXX"
    d = parse_schedule({**VALID, "alerts": {"webhook": webhook, "on": ["paused", "failed"]}})
    assert d.alerts.on == ("failed", "paused") and d.to_dict()["alerts"] == {"on": ["failed", "paused"],
                                                                           "webhook": webhook}
    assert parse_schedule(d.to_dict()) == d
    assert parse_schedule({**VALID, "alerts": None}).alerts is None and parse_schedule(VALID).to_dict()["alerts"] is None


def test_a_stored_webhook_reads_back_whatever_the_allow_list_says_now():
    # The allow-list is a setting, checked on writes and sends: reading never depends on it, so
    # narrowing it cannot make a stored schedule unreadable (and stop it running).
    d = parse_schedule({**VALID, "alerts": {"webhook": "https://no-longer-allowed.example.com/hook"}})
    assert parse_schedule(d.to_dict()).alerts.webhook == "https://no-longer-allowed.example.com/hook"


def test_sla_round_trips_and_a_merge_patch_null_removes_it():
    d = parse_schedule(with_change(("policy", "sla"), {"completeWithinMinutes": 90.0}))
    assert d.policy.complete_within_minutes == 90
    assert d.to_dict()["policy"]["sla"] == {"completeWithinMinutes": 90}
    assert parse_schedule(d.to_dict()) == d
    cleared = parse_schedule(merge_patch(d.to_dict(), {"policy": {"sla": None}}))
    assert cleared.policy.complete_within_minutes is None and cleared.to_dict()["policy"]["sla"] is None
    assert parse_schedule(with_change(("policy", "sla"), {"completeWithinMinutes": 10080})).policy.complete_within_minutes == 10080
