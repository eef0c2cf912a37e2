"""Month and weekday names, steps from one weekday, and the canonical text a schedule keeps."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.scheduling import ScheduleError
from shared.scheduling.cron import CronExpression
from shared.scheduling.cron_syntax import MIN_NAME_LETTERS, MONTH_NAMES, WEEKDAY_NAMES
from shared.scheduling.triggers import CronTrigger
from tests.unit.scheduling.oracle import matching_times

UTC = timezone.utc


def first_fires(expr, after, count=12):
    return list(CronTrigger(CronExpression(expr), UTC).fire_times(after, limit=count))


class TestNames:
    @pytest.mark.parametrize("spelled, canonical", [
        ("0 30 9 * * Monday-Friday", "0 30 9 * * MON-FRI"),
        ("0 30 9 * * monday-FRIDAY", "0 30 9 * * MON-FRI"),
        ("30 6 * * sunday", "30 6 * * SUN"),
        ("30 6 * * SUNDAY,wed,Saturday", "30 6 * * SUN,WED,SAT"),
        ("0 0 9 * * Tues-Thurs", "0 0 9 * * TUE-THU"),
        ("0 0 1 January *", "0 0 1 JAN *"),
        ("0 0 1 january-march,Sept,DECEM *", "0 0 1 JAN-MAR,SEP,DEC *"),
        ("0 0 1 feb/3 *", "0 0 1 FEB/3 *"),
        ("0 0 * * Friday#2", "0 0 * * FRI#2"),
    ])
    def test_full_names_and_longer_prefixes_are_kept_as_abbreviations(self, spelled, canonical):
        assert CronExpression(spelled).text == canonical

    def test_a_name_fires_like_its_number(self):
        after = datetime(2026, 1, 1, tzinfo=UTC)
        assert first_fires("0 30 9 * * Monday-Friday", after) == first_fires("0 30 9 * * 1-5", after)
        assert first_fires("0 0 1 january-march *", after) == first_fires("0 0 1 1-3 *", after)

    def test_spellings_of_one_schedule_are_equal(self):
        # So re-saving a schedule with other letter case is not a changed trigger.
        assert CronExpression("0 0 * * monday") == CronExpression("0  0 * *  MON")
        assert CronExpression("0 0 l * *").text == "0 0 L * *"

    @pytest.mark.parametrize("expr", [
        "0 0 * * M",          # NCrontab reads Monday; one letter could as well mean March
        "0 0 * * Tu",         # NCrontab reads Tuesday; Thursday starts the same way
        "0 0 1 Ju *",         # NCrontab reads June; July starts the same way
        "0 0 * * Mondays",    # not the start of a name
        "0 0 * * Funday",
        "0 0 Monday * *",     # names belong to the month and weekday fields only
        "0 January * * *",
        "0 0 * * ſun",        # upper-cases to SUN, but is not what it looks like
    ])
    def test_refuses_what_is_not_plainly_a_name(self, expr):
        with pytest.raises(ScheduleError) as err:
            CronExpression(expr)
        assert err.value.field == "trigger.cron"


def _spelled(names, number, first_value, case, letters):
    name = names[number - first_value]
    return getattr(name[:letters], case)()


@st.composite
def named_and_numbered(draw):
    """The same expression twice: names (any case, any unambiguous length) and numbers."""
    def field(names, first_value):
        low = draw(st.integers(first_value, first_value + len(names) - 1))
        high = draw(st.integers(low, first_value + len(names) - 1))
        letters = draw(st.integers(MIN_NAME_LETTERS, 9))
        case = draw(st.sampled_from(["upper", "lower", "title"]))
        named = f"{_spelled(names, low, first_value, case, letters)}-{_spelled(names, high, first_value, case, letters)}"
        return named, f"{low}-{high}"

    month_named, month_numbered = field(MONTH_NAMES, 1)
    weekday_named, weekday_numbered = field(WEEKDAY_NAMES, 0)
    day = draw(st.sampled_from(["*", "1-15", "13", "L"]))
    prefix = draw(st.sampled_from(["0 0 12", "0 12"]))
    return (f"{prefix} {day} {month_named} {weekday_named}", f"{prefix} {day} {month_numbered} {weekday_numbered}")


@settings(max_examples=100, deadline=None)
@given(pair=named_and_numbered(), after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)))
def test_names_fire_exactly_as_the_oracle_reads_the_numbers(pair, after):
    named, numbered = pair
    after = after.replace(tzinfo=UTC)
    horizon = after + timedelta(days=3 * 366)
    reference = []
    for fire in matching_times(numbered, after, horizon):
        reference.append(fire)
        if len(reference) == 12:
            break
    assert [f for f in first_fires(named, after) if f <= horizon] == reference


class TestWeekdayStepsInSixFields:
    """NCrontab runs a step from one weekday to Saturday (6); cronsim alone runs on to 7."""

    def test_six_fields_stop_at_saturday(self):
        assert CronExpression("0 0 9 * * 1/2").text == "0 0 9 * * 1-6/2"
        assert CronExpression("0 0 9 * * Monday/2").text == "0 0 9 * * MON-SAT/2"
        weekdays = {f.strftime("%a") for f in first_fires("0 0 9 * * 1/2", datetime(2026, 1, 1, tzinfo=UTC), 30)}
        assert weekdays == {"Mon", "Wed", "Fri"}

    def test_five_fields_keep_the_classic_reading(self):
        # 7 is Sunday again in classic cron's weekday field, so the step reaches it.
        assert CronExpression("0 9 * * 1/2").text == "0 9 * * 1/2"
        weekdays = {f.strftime("%a") for f in first_fires("0 9 * * 1/2", datetime(2026, 1, 1, tzinfo=UTC), 30)}
        assert weekdays == {"Mon", "Wed", "Fri", "Sun"}

    def test_a_step_from_seven_keeps_meaning_sunday(self):
        # NCrontab refuses 7; cronsim reads it as Sunday, as schedules saved before did.
        assert CronExpression("0 0 9 * * 7/2").text == "0 0 9 * * 7/2"
        weekdays = {f.strftime("%a") for f in first_fires("0 0 9 * * 7/2", datetime(2026, 1, 1, tzinfo=UTC), 5)}
        assert weekdays == {"Sun"}
