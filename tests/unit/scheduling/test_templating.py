from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.scheduling import ScheduleError
from shared.scheduling.templating import SlotContext, render_parameters, validate_parameters

UTC = timezone.utc
CTX = SlotContext(
    slot=datetime(2026, 11, 22, 1, 30, tzinfo=UTC),
    zone=ZoneInfo("Europe/Berlin"),
    interval_start=datetime(2026, 11, 21, 1, 30, tzinfo=UTC),
    schedule_id="nightly",
    run_key="nightly_20261122T013000Z",
)


def test_renders_every_placeholder():
    params = {
        "a": "{{slot}}", "b": "{{slot_local}}", "c": "{{slot:%Y%m%d}}", "d": "{{ slot_local:%Y-%m-%d %H:%M }}",
        "e": "{{interval_start}}..{{interval_end}}", "f": "{{schedule_id}}/{{run_key}}", "n": 50, "flag": True,
    }
    assert render_parameters(validate_parameters("p", params), CTX) == {
        "a": "2026-11-22T01:30:00Z", "b": "2026-11-22T02:30:00+01:00", "c": "20261122", "d": "2026-11-22 02:30",
        "e": "2026-11-21T01:30:00Z..2026-11-22T01:30:00Z", "f": "nightly/nightly_20261122T013000Z",
        "n": 50, "flag": True,
    }


def test_text_without_placeholders_is_untouched():
    assert render_parameters({"x": "{not a placeholder} {{"}, CTX) == {"x": "{not a placeholder} {{"}


@pytest.mark.parametrize("value, fragment", [
    ("{{yesterday}}", "unknown placeholder"),
    ("{{schedule_id:%Y}}", "takes no format"),
    ("{{slot: }}", "empty strftime"),
])
def test_rejects_bad_placeholders_at_create_time(value, fragment):
    with pytest.raises(ScheduleError) as err:
        validate_parameters("target.parameterAssignments", {"p": value})
    assert err.value.field == "target.parameterAssignments.p"
    assert fragment in err.value.message


@pytest.mark.parametrize("params", [[], {"p": {"nested": 1}}, {"p": [1]}, {"": 1}, {"p": None}])
def test_rejects_non_scalar_values(params):
    with pytest.raises(ScheduleError):
        validate_parameters("target.parameterAssignments", params)
