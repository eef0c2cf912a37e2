import pytest

from shared.scheduling import ScheduleError
from shared.scheduling.zones import resolve_zone


def test_resolves_iana_names():
    assert str(resolve_zone("Europe/Berlin")) == "Europe/Berlin"
    assert str(resolve_zone("UTC")) == "UTC"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "Europe/" + "x" * 80])
def test_rejects_unknown_or_unsafe_names(name):
    with pytest.raises(ScheduleError) as err:
        resolve_zone(name)
    assert err.value.field == "trigger.timeZone"
