"""AML v2 schedules converted to ours (shared.importing): what is imported, how, and every skip."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from devtools.aml_emulator.local_seeds import local_schedule_properties
from shared.importing import (
    Imported,
    Skipped,
    convert,
    description_for,
    imported_from,
    marker,
    schedule_id_for,
)

UTC = timezone.utc
WS = "subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1"
CREATED = "2026-03-04T05:06:07.000Z"
JOB = {"jobType": "Pipeline", "experimentName": "nightly", "displayName": "Nightly scoring",
       "computeId": f"/{WS}/computes/cpu-cluster",
       "inputs": {"day": {"jobInputType": "literal", "value": "{{slot_local:%Y-%m-%d}}"}},
       "jobs": {"score": {"type": "command", "componentId": "azureml:score:1"}},
       "settings": {"default_compute": "azureml:cpu-cluster"}, "tags": {"team": "ml"}}


def cron(expression="0 2 * * *", **trigger):
    return {"triggerType": "Cron", "expression": expression, **trigger}


def recurrence(frequency="Day", interval=1, schedule=None, **trigger):
    doc = {"triggerType": "Recurrence", "frequency": frequency, "interval": interval, **trigger}
    if schedule is not None:
        doc["schedule"] = schedule
    return doc


def job_action(**job):
    return {"actionType": "CreateJob", "jobDefinition": {**copy.deepcopy(JOB), **job}}


def batch_action(endpoint="score-batch", **body):
    invocation = {"inputData": {"data": {"jobInputType": "UriFolder", "uri": "azureml://datastores/in/paths/x/"}},
                  **body}
    return {"actionType": "InvokeBatchEndpoint",
            "endpointInvocationDefinition": {"endpointId": endpoint, "properties": invocation}}


def aml(name="nightly", trigger=None, action=None, *, created=CREATED, **props):
    resource = {"name": name, "properties": {"trigger": trigger or cron(), "action": action or job_action(),
                                             "isEnabled": True, **props}}
    if created is not None:
        resource["systemData"] = {"createdAt": created}
    return resource


def imported(resource) -> Imported:
    outcome = convert(resource, workspace_path=WS)
    assert isinstance(outcome, Imported), outcome
    return outcome


def skipped(resource, *fragments) -> str:
    outcome = convert(resource, workspace_path=WS)
    assert isinstance(outcome, Skipped), outcome
    for fragment in fragments:
        assert fragment in outcome.reason, outcome.reason
    return outcome.reason


def fires(outcome: Imported, after: str, count: int = 3) -> list[str]:
    trigger = outcome.definition.trigger.build()
    start = datetime.fromisoformat(after.replace("Z", "+00:00"))
    return [t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in trigger.fire_times(start, limit=count)]


# -- what every import looks like -----------------------------------------------------------------

def test_the_local_stacks_seeded_schedule_imports_disabled_with_its_trigger_and_target():
    outcome = imported({"name": "nightly-batch-score", "properties": local_schedule_properties(WS),
                        "systemData": {"createdAt": CREATED}})
    doc = outcome.definition.to_dict()
    assert (outcome.name, outcome.schedule_id, doc["enabled"]) == ("nightly-batch-score", "nightly-batch-score", False)
    assert doc["trigger"]["cron"] == "0 2 * * *" and doc["trigger"]["timeZone"] == "W. Europe Standard Time"
    # An offset-less start is read in the schedule's zone: midnight in Berlin is 23:00 UTC the day before.
    assert doc["trigger"]["startTime"] == "2025-12-31T23:00:00Z"
    assert doc["target"] == {
        "kind": "batchEndpoint", "endpointName": "score-batch", "experimentName": "nightly-batch-score",
        "inputs": {"input_data": {"type": "uri_folder",
                                  "uri": "azureml://datastores/workspaceblobstore/paths/scoring/input/"}},
        "outputs": {"score": {"type": "uri_folder",
                              "uri": "azureml://datastores/workspaceblobstore/paths/scoring/output/"}}}
    assert doc["description"].startswith("Imported from AML schedule 'nightly-batch-score' (Nightly batch scoring): ")
    assert fires(outcome, "2026-06-30T23:00:00Z", 2) == ["2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z"]


def test_an_enabled_aml_schedule_is_imported_disabled_and_a_disabled_one_too():
    assert imported(aml(isEnabled=True)).definition.enabled is False
    assert imported(aml(isEnabled=False)).definition.enabled is False


@pytest.mark.parametrize("name, expected", [
    ("nightly", "nightly"),
    ("Nightly_Batch-Score", "nightly-batch-score"),
    ("2026_q4", "2026-q4"),
    ("A" * 255, "a" * 63),
])
def test_the_schedule_id_comes_from_the_aml_name(name, expected):
    assert schedule_id_for(name) == expected
    assert imported(aml(name)).schedule_id == expected


@pytest.mark.parametrize("name", ["has space", "dots.in.name", "-leading", "", None, "x" * 256])
def test_a_name_that_is_no_aml_schedule_name_is_skipped(name):
    outcome = convert(aml(name), workspace_path=WS)
    assert isinstance(outcome, Skipped) and "not a valid AML schedule name" in outcome.reason
    assert outcome.name == (name if isinstance(name, str) else "")


def test_the_description_carries_the_marker_then_amls_display_name_and_description():
    assert description_for("nightly", None, None) == "Imported from AML schedule 'nightly'"
    assert description_for("nightly", "nightly", "") == "Imported from AML schedule 'nightly'"
    assert description_for("nightly", "Nightly run", " Scores orders ") == \
        "Imported from AML schedule 'nightly' (Nightly run): Scores orders"
    long = description_for("nightly", "N", "x" * 2000)
    assert len(long) == 1024 and long.endswith("…") and imported_from(long) == "nightly"
    assert imported(aml(displayName="N", description="x" * 2000)).definition.description == long


@pytest.mark.parametrize("text, name", [
    (marker("nightly"), "nightly"),
    (marker("Nightly_2") + " (x): y", "Nightly_2"),
    ("Imported from AML schedule nightly", None),
    ("Scores. Imported from AML schedule 'nightly'", None),
    ("", None),
])
def test_the_marker_reads_back(text, name):
    assert imported_from(text) == name


# -- cron -------------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, stored", [
    ("0 2 * * *", "0 2 * * *"),
    ("30 6 * * mon-fri", "30 6 * * MON-FRI"),
    ("*/15 8-17 * * 1-5", "*/15 8-17 * * 1-5"),
    ("0 9 * * 0", "0 9 * * 0"),
    ("0 9 * * */2", "0 9 * * */2"),
    ("0 9 * * 0-6/2", "0 9 * * 0-6/2"),
    ("0,30 1 * * SUN,SAT", "0,30 1 * * SUN,SAT"),
])
def test_a_five_field_cron_with_any_days_is_kept(expression, stored):
    assert imported(aml(trigger=cron(expression))).definition.trigger.cron == stored


def test_amls_documented_example_fires_on_mondays_in_the_windows_zone():
    # "15 16 * * 1 means 4:15 PM every Monday" (AML's schedule docs), here in Pacific time.
    outcome = imported(aml(trigger=cron("15 16 * * 1", timeZone="Pacific Standard Time")))
    assert fires(outcome, "2026-03-01T00:00:00Z") == ["2026-03-03T00:15:00Z",  # PST
                                                      "2026-03-09T23:15:00Z",  # PDT from 8 March
                                                      "2026-03-16T23:15:00Z"]


@pytest.mark.parametrize("expression", ["0 2 1 * *", "0 2 * 6 *", "0 2 1-15 * MON", "0 2 ? * *", "0 2 L * *"])
def test_a_cron_restricting_day_of_month_or_month_is_skipped(expression):
    skipped(aml(trigger=cron(expression)), "day of month or the month", "treats them as *")


@pytest.mark.parametrize("expression", ["0 0 2 * * *", "0 2 * *", "0 2 * * * 2026"])
def test_a_cron_without_five_fields_is_skipped(expression):
    skipped(aml(trigger=cron(expression)), "AML's have 5")


@pytest.mark.parametrize("expression", ["0 9 * * 1/2", "0 9 * * FRI/1"])
def test_a_weekday_step_from_one_day_reads_differently_and_is_skipped(expression):
    skipped(aml(trigger=cron(expression)), "step from one day", "Saturday")


@pytest.mark.parametrize("expression", ["0 9 * * 5L", "0 9 * * 1#2"])
def test_weekday_extensions_ncrontab_lacks_are_skipped(expression):
    skipped(aml(trigger=cron(expression)), "day-of-week extension", "NCrontab")


@pytest.mark.parametrize("trigger, fragment", [
    (cron("61 2 * * *"), "trigger.cron"),
    (cron(""), "no expression"),
    ({"triggerType": "Cron"}, "no expression"),
    ({"triggerType": "Event"}, "trigger type 'Event'"),
    ("0 2 * * *", "no trigger"),
])
def test_a_cron_we_cannot_read_is_skipped(trigger, fragment):
    skipped(aml(trigger=trigger), fragment)


# -- time zones, start and end ------------------------------------------------------------------

def test_no_time_zone_means_utc():
    assert imported(aml(trigger=cron())).definition.trigger.time_zone == "UTC"
    assert imported(aml(trigger=cron(timeZone=None))).definition.trigger.time_zone == "UTC"


@pytest.mark.parametrize("zone, first", [
    ("UTC", "2026-07-01T02:00:00Z"),
    ("Pacific Standard Time", "2026-07-01T09:00:00Z"),
    ("Tokyo Standard Time", "2026-07-01T17:00:00Z"),
    ("Europe/Berlin", "2026-07-01T00:00:00Z"),
])
def test_windows_and_iana_zones_are_kept_and_used(zone, first):
    outcome = imported(aml(trigger=cron(timeZone=zone)))
    assert outcome.definition.trigger.time_zone == zone
    assert fires(outcome, "2026-06-30T23:30:00Z", 1) == [first]


def test_a_zone_we_cannot_resolve_is_skipped():
    skipped(aml(trigger=cron(timeZone="Mid-Atlantic Standard Time")), "trigger.timeZone", "unknown time zone")


@pytest.mark.parametrize("start, expected", [
    ("2026-05-10T10:15:00", "2026-05-10T17:15:00Z"),  # local (PDT) without an offset
    ("2026-05-10T10:15:00-04:00", "2026-05-10T14:15:00Z"),  # AML's documented form with an offset
    ("2026-05-10T10:15:00Z", "2026-05-10T10:15:00Z"),
    ("2026-05-10T10:15:00.0000000", "2026-05-10T17:15:00Z"),  # .NET's seven fractional digits
])
def test_start_and_end_times_are_read_like_aml_writes_them(start, expected):
    outcome = imported(aml(trigger=cron(timeZone="Pacific Standard Time", startTime=start,
                                        endTime="2027-01-01T00:00:00")))
    doc = outcome.definition.trigger.to_dict()
    assert doc["startTime"] == expected and doc["endTime"] == "2027-01-01T08:00:00Z"


def test_a_cron_without_a_start_gets_none():
    assert imported(aml(trigger=cron())).definition.trigger.start_time is None


@pytest.mark.parametrize("trigger, fragment", [
    (cron(startTime="2026-05-10T10:15:00", endTime="2026-05-01T00:00:00"), "trigger.endTime"),
    (cron(startTime="tomorrow"), "trigger.startTime"),
    (cron(startTime=20260510), "not a date-time string"),
])
def test_bad_start_and_end_times_are_skipped(trigger, fragment):
    skipped(aml(trigger=trigger), fragment)


# -- recurrence, each frequency -------------------------------------------------------------------

def test_minute_recurrence_counts_from_its_start():
    outcome = imported(aml(trigger=recurrence("Minute", 15, startTime="2026-06-01T08:05:00")))
    assert outcome.definition.trigger.recurrence.to_dict() == {"frequency": "Minute", "interval": 15}
    assert fires(outcome, "2026-06-01T09:00:00Z") == ["2026-06-01T09:05:00Z", "2026-06-01T09:20:00Z",
                                                      "2026-06-01T09:35:00Z"]


def test_hour_recurrence_without_a_start_counts_from_amls_creation_time():
    outcome = imported(aml(trigger=recurrence("Hour", 2)))
    assert outcome.definition.trigger.to_dict()["startTime"] == "2026-03-04T05:06:07Z"
    assert fires(outcome, "2026-03-04T06:00:00Z") == ["2026-03-04T07:06:07Z", "2026-03-04T09:06:07Z",
                                                      "2026-03-04T11:06:07Z"]


def test_day_recurrence_with_hours_and_minutes_in_a_windows_zone():
    outcome = imported(aml(trigger=recurrence("day", 1, {"hours": [2, 14], "minutes": [30], "weekDays": None,
                                                        "monthDays": None}, timeZone="W. Europe Standard Time")))
    assert outcome.definition.trigger.recurrence.to_dict() == {"frequency": "Day", "interval": 1,
                                                               "hours": [2, 14], "minutes": [30]}
    assert fires(outcome, "2026-07-01T00:00:00Z") == ["2026-07-01T00:30:00Z", "2026-07-01T12:30:00Z",
                                                      "2026-07-02T00:30:00Z"]


def test_week_recurrence_on_week_days():
    outcome = imported(aml(trigger=recurrence("Week", 1, {"hours": [6], "minutes": [30],
                                                          "weekDays": ["Monday", "Friday"]},
                                              timeZone="Pacific Standard Time")))
    assert outcome.definition.trigger.recurrence.to_dict()["weekDays"] == ["Monday", "Friday"]
    assert fires(outcome, "2026-07-01T00:00:00Z") == ["2026-07-03T13:30:00Z", "2026-07-06T13:30:00Z",
                                                      "2026-07-10T13:30:00Z"]


def test_every_other_week_without_a_sunday_is_imported():
    # Wednesday 6 May 2026 starts it: its week counts, so Friday 8 May, then 18 and 22 May.
    outcome = imported(aml(trigger=recurrence("Week", 2, {"hours": [9], "minutes": [0],
                                                          "weekDays": ["Monday", "Friday"]},
                                              startTime="2026-05-06T00:00:00")))
    assert fires(outcome, "2026-05-06T00:00:00Z") == ["2026-05-08T09:00:00Z", "2026-05-18T09:00:00Z",
                                                      "2026-05-22T09:00:00Z"]


@pytest.mark.parametrize("days, start", [
    (["Sunday"], "2026-05-06T00:00:00"),
    (["Monday", "Sunday"], "2026-05-06T00:00:00"),
    (["Monday"], "2026-05-10T00:00:00"),  # a Sunday start
    (None, "2026-05-10T00:00:00"),
])
def test_every_other_week_involving_a_sunday_is_skipped(days, start):
    pattern = {"hours": [9], "minutes": [0]}
    if days:
        pattern["weekDays"] = days
    skipped(aml(trigger=recurrence("Week", 2, pattern, startTime=start)), "every 2 weeks", "Sunday or Monday")


def test_every_other_week_starting_sunday_in_its_zone_counts_the_local_day():
    # Sunday 10 May 02:00 UTC is still Saturday 9 May in Los Angeles: no Sunday involved.
    imported(aml(trigger=recurrence("Week", 2, {"hours": [9], "minutes": [0], "weekDays": ["Monday"]},
                                    startTime="2026-05-10T02:00:00Z", timeZone="Pacific Standard Time")))


def test_month_recurrence_on_month_days():
    outcome = imported(aml(trigger=recurrence("Month", 3, {"hours": [6], "minutes": [0], "monthDays": [1, 15]},
                                              startTime="2026-01-20T00:00:00Z")))
    assert outcome.definition.trigger.recurrence.to_dict() == {"frequency": "Month", "interval": 3,
                                                               "hours": [6], "minutes": [0], "monthDays": [1, 15]}
    assert fires(outcome, "2026-01-20T00:00:00Z") == ["2026-04-01T06:00:00Z", "2026-04-15T06:00:00Z",
                                                      "2026-07-01T06:00:00Z"]


def test_single_values_and_any_letter_case_are_taken():
    outcome = imported(aml(trigger=recurrence("WEEK", 1, {"hours": 6, "minutes": 0, "weekDays": "friday"})))
    assert outcome.definition.trigger.recurrence.to_dict() == {"frequency": "Week", "interval": 1, "hours": [6],
                                                               "minutes": [0], "weekDays": ["Friday"]}


@pytest.mark.parametrize("trigger, fragments", [
    (recurrence("Minute", 5, {"hours": [1], "minutes": [0]}), ("trigger.schedule.hours", "Day, Week and Month")),
    (recurrence("Hour", 1, {"hours": [], "minutes": [5]}), ("trigger.schedule.minutes", "frequency Hour")),
    (recurrence("Day", 1, {"hours": [1], "minutes": [0], "weekDays": ["Monday"]}), ("weekDays with frequency Day",)),
    (recurrence("Day", 1, {"hours": [1], "minutes": [0], "monthDays": [1]}), ("monthDays with frequency Day",)),
    (recurrence("Week", 1, {"hours": [1], "minutes": [0], "monthDays": [1]}), ("monthDays with frequency Week",)),
    (recurrence("Month", 1, {"hours": [1], "minutes": [0], "weekDays": ["Monday"]}),
     ("weekDays with frequency Month",)),
    (recurrence("Day", 1, {"hours": [], "minutes": [0]}), ("trigger.schedule.hours is empty",)),
    (recurrence("Day", 1, {"hours": [3]}), ("trigger.schedule.minutes is empty",)),
    (recurrence("Day", 1, {"hours": [3], "minutes": [0], "seconds": [0]}), ("trigger.schedule.seconds",)),
    (recurrence("Day", 1, "daily"), ("not an object",)),
    (recurrence("Year", 1), ("frequency 'Year'",)),
    (recurrence("Day", 0), ("trigger.recurrence.interval",)),
    (recurrence("Day", 1001), ("trigger.recurrence.interval",)),
    (recurrence("Day", 1, {"hours": [24], "minutes": [0]}), ("trigger.recurrence.hours[0]",)),
    (recurrence("Day", 1, {"hours": [1, 1], "minutes": [0]}), ("repeats",)),
    (recurrence("Month", 12, {"hours": [0], "minutes": [0], "monthDays": [31]}, startTime="2026-04-01T00:00:00"),
     ("never fires",)),
])
def test_recurrences_we_cannot_express_exactly_are_skipped(trigger, fragments):
    skipped(aml(trigger=trigger), *fragments)


def test_a_recurrence_without_start_or_creation_time_is_skipped():
    skipped(aml(trigger=recurrence("Hour", 1), created=None), "no startTime", "creation time")


# -- CreateJob ------------------------------------------------------------------------------------

def test_a_job_keeps_its_definition_without_amls_read_only_fields_and_nulls():
    action = job_action(status="Completed", services={"Studio": {"endpoint": "https://ml.azure.com"}},
                        isArchived=False, description=None, notificationSetting=None)
    outcome = imported(aml(action=action))
    assert outcome.definition.target.kind == "job"
    assert outcome.definition.target.to_dict() == {"kind": "job", "job": JOB}


@pytest.mark.parametrize("action, fragment", [
    (job_action(jobType="Sweep"), "target.job.jobType"),
    (job_action(computeId="no such:thing"), "target.job.computeId"),
    (job_action(outputs={"out": {"jobOutputType": "uri_folder", "uri": "azureml://datastores/o/paths/{{name}}/"}}),
     "unknown placeholder {{name}}"),
    ({"actionType": "CreateJob"}, "no jobDefinition"),
])
def test_a_job_our_target_refuses_is_skipped_with_its_message(action, fragment):
    skipped(aml(action=action), fragment)


def test_amls_trigger_time_macro_is_skipped():
    action = job_action(inputs={"day": {"jobInputType": "literal", "value": "${{creation_context.trigger_time}}"}})
    skipped(aml(action=action), "${{creation_context.trigger_time}}", "{{slot")


# -- InvokeBatchEndpoint --------------------------------------------------------------------------

ENDPOINT_ID = f"/{WS}/batchEndpoints/score-batch"


@pytest.mark.parametrize("reference, endpoint, deployment", [
    ("score-batch", "score-batch", None),
    ("azureml:score-batch", "score-batch", None),
    (ENDPOINT_ID, "score-batch", None),
    ("azureml:" + ENDPOINT_ID, "score-batch", None),
    (ENDPOINT_ID.lower().replace("batchendpoints", "BATCHENDPOINTS"), "score-batch", None),
    (ENDPOINT_ID + "/deployments/blue", "score-batch", "blue"),
])
def test_the_endpoint_is_named_by_arm_id_azureml_form_or_name(reference, endpoint, deployment):
    target = imported(aml(action=batch_action(reference))).definition.target
    assert (target.kind, target.target_id, target.deployment) == ("batchEndpoint", endpoint, deployment)


@pytest.mark.parametrize("reference, fragment", [
    (ENDPOINT_ID.replace("ws-1", "ws-2"), "another workspace"),
    (f"/{WS}/onlineEndpoints/score", "not the ARM id of a batch endpoint"),
    (None, "endpointId is missing"),
    ("", "endpointId is missing"),
    ("no", "target.endpointName"),
])
def test_an_endpoint_we_cannot_invoke_is_skipped(reference, fragment):
    skipped(aml(action=batch_action(reference)), fragment)


def test_the_documented_pascal_case_invocation_is_read_too():
    definition = {"EndpointId": ENDPOINT_ID, "Properties": {
        "InputData": {"data": {"JobInputType": "UriFile", "Uri": "azureml://datastores/in/paths/a.csv",
                               "Mode": "ReadOnlyMount"},
                      "threshold": {"JobInputType": "Literal", "Value": "0.5"}},
        "OutputData": {"scores": {"JobOutputType": "UriFolder", "Uri": "azureml://datastores/out/paths/s/",
                                  "Mode": "Upload"}},
        "Properties": {"ExperimentName": "scoring"}, "Tags": {}}}
    action = {"actionType": "InvokeBatchEndpoint", "endpointInvocationDefinition": definition}
    assert imported(aml(action=action)).definition.target.to_dict() == {
        "kind": "batchEndpoint", "endpointName": "score-batch", "experimentName": "scoring",
        "inputs": {"data": {"type": "uri_file", "uri": "azureml://datastores/in/paths/a.csv", "mode": "ro_mount"},
                   "threshold": {"type": "literal", "value": "0.5"}},
        "outputs": {"scores": {"type": "uri_folder", "uri": "azureml://datastores/out/paths/s/", "mode": "upload"}}}


def test_snake_case_types_and_an_invocation_without_bindings_are_read():
    action = batch_action(inputData={"d": {"jobInputType": "uri_folder", "uri": "azureml://x/", "mode": None,
                                           "description": None}}, outputData=None, properties=None)
    target = imported(aml(action=action)).definition.target
    assert (target.inputs, target.outputs, target.experiment_name) == (
        {"d": {"type": "uri_folder", "uri": "azureml://x/"}}, {}, None)
    bare = {"actionType": "InvokeBatchEndpoint", "endpointInvocationDefinition": {"endpointId": "score-batch"}}
    assert imported(aml(action=bare)).definition.target.inputs == {}


@pytest.mark.parametrize("definition, fragments", [
    ({"endpointId": "score-batch", "deploymentName": "blue"}, ("endpointInvocationDefinition.deploymentname",)),
    ({"endpointId": "score-batch", "properties": {"miniBatchSize": 10}},
     ("properties.minibatchsize", "cannot carry")),
    ({"endpointId": "score-batch", "properties": {"compute": {"instanceCount": 2}}}, ("properties.compute",)),
    ({"endpointId": "score-batch", "properties": {"tags": {"a": "b"}}}, ("properties.tags",)),
    ({"endpointId": "score-batch", "properties": {"properties": {"experimentName": "x", "priority": "1"}}},
     ("properties.properties.priority",)),
    ({"endpointId": "score-batch", "properties": {"inputData": {"d": {"jobInputType": "MLTable", "uri": "x"}}}},
     ("inputData.d is of type 'MLTable'", "Literal, UriFile, UriFolder")),
    ({"endpointId": "score-batch", "properties": {"outputData": {"o": {"jobOutputType": "Literal", "value": "1"}}}},
     ("outputData.o is of type 'Literal'",)),
    ({"endpointId": "score-batch", "properties": {"inputData": {"d": {"jobInputType": "UriFolder", "uri": "x",
                                                                       "pathOnCompute": "/mnt"}}}},
     ("inputData.d.pathoncompute",)),
    ({"endpointId": "score-batch", "properties": {"inputData": {"d": {"jobInputType": "UriFolder", "uri": "x",
                                                                       "mode": "Teleport"}}}},
     ("mode 'Teleport'",)),
    ({"endpointId": "score-batch", "properties": {"inputData": {"d": {"jobInputType": "UriFolder"}}}},
     ("target.inputs.d.uri",)),
    ({"endpointId": "score-batch", "endpointid": "other"}, ("twice",)),
    ({"endpointId": "score-batch", "properties": ["x"]}, ("properties is not an object",)),
    ({"endpointId": "score-batch", "properties": {"properties": {"experimentName": "bad name!"}}},
     ("target.experimentName",)),
])
def test_invocations_our_target_cannot_carry_are_skipped_naming_the_field(definition, fragments):
    action = {"actionType": "InvokeBatchEndpoint", "endpointInvocationDefinition": definition}
    skipped(aml(action=action), *fragments)


def test_a_batch_action_without_a_definition_is_skipped():
    skipped(aml(action={"actionType": "InvokeBatchEndpoint"}), "no endpointInvocationDefinition")


# -- other actions --------------------------------------------------------------------------------

@pytest.mark.parametrize("action, fragment", [
    ({"actionType": "CreateMonitor", "monitorDefinition": {}}, "CreateMonitor"),
    ({"actionType": "ImportData", "dataImportDefinition": {}}, "'ImportData'"),
    ({}, "action type None"),
    (None, "no action"),
])
def test_other_actions_are_skipped(action, fragment):
    resource = aml()
    resource["properties"]["action"] = action
    skipped(resource, fragment)


def test_a_resource_without_properties_is_skipped():
    assert convert({"name": "x"}, workspace_path=WS) == Skipped("x", "AML answered without the schedule's properties")
