from zoneinfo import ZoneInfo

import pytest

from shared.scheduling import ScheduleError
from shared.scheduling.zones import resolve_zone, windows_zone_names


def test_resolves_iana_names():
    assert str(resolve_zone("Europe/Berlin")) == "Europe/Berlin"
    assert str(resolve_zone("UTC")) == "UTC"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "Europe/" + "x" * 80])
def test_rejects_unknown_or_unsafe_names(name):
    with pytest.raises(ScheduleError) as err:
        resolve_zone(name)
    assert err.value.field == "trigger.timeZone"


@pytest.mark.parametrize("windows, iana", [
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Lord Howe Standard Time", "Australia/Lord_Howe"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("UTC-11", "Etc/GMT+11"),
])
def test_resolves_windows_names_as_aml_accepts_them(windows, iana):
    assert resolve_zone(windows) == ZoneInfo(iana)


def test_windows_names_come_from_cldr_and_all_resolve():
    names = windows_zone_names()
    # CLDR's windowsZones has well over a hundred territory-001 entries; a hand-typed
    # subset would be much smaller.
    assert len(names) > 130
    for iana in names.values():
        ZoneInfo(iana)


@pytest.mark.parametrize("name", ["pacific standard time", "Pacific Standard", "Mars Standard Time"])
def test_windows_names_are_exact(name):
    with pytest.raises(ScheduleError) as err:
        resolve_zone(name)
    assert err.value.field == "trigger.timeZone" and "Windows name" in err.value.message


@pytest.mark.parametrize("name", [["Europe/Berlin"], {"name": "UTC"}, 3, None, ""])
def test_a_zone_that_is_not_a_name_is_a_schedule_error_not_a_crash(name):
    # Lists and objects reach this from request bodies; they cannot be cache keys.
    with pytest.raises(ScheduleError) as caught:
        resolve_zone(name)
    assert caught.value.field == "trigger.timeZone"
