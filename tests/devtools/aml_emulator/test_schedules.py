"""AML v2 schedules on the ARM plane (for import), and their seeds.

Shapes follow the 2025-12-01 examples Schedule/get.json and Schedule/list.json.
"""

from __future__ import annotations

import copy

import pytest

from tests.devtools.aml_emulator.support import CRON, RECURRENCE, assert_error_shape


def test_a_schedule_reads_back_as_seeded_with_its_arm_envelope(aml, arm):
    seeded = aml.seed_schedule("nightly", CRON)
    got = arm.get("schedules", "nightly").json()
    assert got == seeded
    assert (got["id"], got["type"]) == (f"/{aml.workspace_path}/schedules/nightly",
                                        "Microsoft.MachineLearningServices/workspaces/schedules")
    props = got["properties"]
    assert props["trigger"] == CRON["trigger"] and props["action"] == CRON["action"]
    assert (props["provisioningState"], props["isEnabled"], props["displayName"]) == ("Succeeded", True, "Nightly")
    assert_error_shape(arm.get("schedules", "nope"), 404)


def test_lists_show_enabled_schedules_unless_asked_and_page(aml, arm):
    aml.arm_page_size = 1
    aml.seed_schedule("nightly", CRON)
    aml.seed_schedule("weekdays", RECURRENCE)
    aml.seed_schedule("zz-nightly", CRON)
    enabled = arm.get("schedules").json()
    assert [s["name"] for s in enabled["value"]] == ["nightly"]
    assert [s["name"] for s in arm.call("GET", url=enabled["nextLink"]).json()["value"]] == ["zz-nightly"]
    every = arm.get("schedules", params={**arm.params, "listViewType": "All"}).json()
    assert "listViewType=All" in every["nextLink"]
    disabled = arm.get("schedules", params={**arm.params, "listViewType": "DisabledOnly"}).json()
    assert [s["name"] for s in disabled["value"]] == ["weekdays"]
    assert_error_shape(arm.get("schedules", params={**arm.params, "listViewType": "Some"}), 400)


def test_a_monitor_schedule_is_kept_as_seeded(aml, arm):
    monitor = {**CRON, "action": {"actionType": "CreateMonitor", "monitorDefinition": {"computeConfiguration": {}}}}
    aml.seed_schedule("drift", monitor)
    assert arm.get("schedules", "drift").json()["properties"]["action"] == monitor["action"]


def bad(path, value):
    properties = copy.deepcopy(RECURRENCE)
    target = properties
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return properties


@pytest.mark.parametrize("properties", [
    None,
    bad(("trigger", "triggerType"), "Daily"),
    bad(("trigger", "frequency"), "Year"),
    bad(("trigger", "interval"), 0),
    bad(("trigger", "schedule", "hours"), [24]),
    bad(("trigger", "schedule", "weekDays"), ["Mon"]),
    bad(("trigger", "timeZone"), 1),
    bad(("action", "actionType"), "CreateMonitor"),
    bad(("action", "jobDefinition"), {}),
    bad(("isEnabled",), "yes"),
    {**CRON, "trigger": {"triggerType": "Cron"}},
    {**CRON, "action": {"actionType": "InvokeBatchEndpoint"}},
])
def test_bad_schedules_are_refused(aml, properties):
    with pytest.raises(ValueError):
        aml.seed_schedule("bad", properties)
    assert aml.schedules() == []
