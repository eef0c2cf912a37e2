from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.scheduling import ScheduleError
from shared.scheduling.cron import CronExpression

UTC = timezone.utc


def fires_on_local_day(expr: str, zone_name: str, year: int, month: int, day: int) -> list[str]:
    """Every fire time on one local calendar day, as local wall-clock strings with offsets."""
    zone = ZoneInfo(zone_name)
    cron = CronExpression(expr)
    start = datetime(year, month, day, tzinfo=zone)
    end = datetime.combine((start + timedelta(days=1)).date(), datetime.min.time(), tzinfo=zone)
    out, cursor = [], start.astimezone(UTC) - timedelta(microseconds=1)
    while True:
        cursor = cron.next_after(cursor, zone)
        if cursor is None or cursor >= end.astimezone(UTC):
            return out
        out.append(cursor.astimezone(zone).strftime("%H:%M:%S%z"))


class TestParsing:
    @pytest.mark.parametrize("expr", ["*/5 * * * *", "0 30 2 * * *", "0 0 * * MON-FRI", "  15  3 * * *  "])
    def test_accepts_five_and_six_fields(self, expr):
        assert CronExpression(expr).text == " ".join(expr.split())

    @pytest.mark.parametrize("expr", ["", "* * * *", "* * * * * * *", "61 * * * *", "0 25 * * *", "x * * * *",
                                      "0 0 31 2 *"])
    def test_rejects_bad_expressions_naming_the_field(self, expr):
        with pytest.raises(ScheduleError) as err:
            CronExpression(expr)
        assert err.value.field == "trigger.cron"

    def test_rejects_non_strings(self):
        with pytest.raises(ScheduleError):
            CronExpression(5)  # type: ignore[arg-type]


class TestNextAfter:
    def test_is_strictly_after(self):
        cron = CronExpression("0 * * * * *")
        at = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
        assert cron.next_after(at, UTC) == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
        assert cron.next_after(at - timedelta(microseconds=1), UTC) == at

    def test_six_fields_read_seconds_first(self):
        cron = CronExpression("15 30 2 * * *")
        assert cron.next_after(datetime(2026, 1, 1, tzinfo=UTC), UTC) == datetime(2026, 1, 1, 2, 30, 15, tzinfo=UTC)

    def test_evaluated_in_the_schedule_zone(self):
        berlin = ZoneInfo("Europe/Berlin")
        fire = CronExpression("30 2 * * *").next_after(datetime(2026, 1, 10, tzinfo=UTC), berlin)
        assert fire == datetime(2026, 1, 10, 1, 30, tzinfo=UTC)


class TestDaylightSavingTime:
    """Spring forward: a missing local time fires once at the end of the gap.
    Fall back: a repeated local time fires once, at its first occurrence.
    Hour field `*`: elapsed time, so 23 or 25 hourly fires on the change days."""

    @pytest.mark.parametrize("expr", ["30 2 * * *", "0 30 2 * * *"])
    def test_berlin_spring_forward_fires_at_gap_end(self, expr):
        assert fires_on_local_day(expr, "Europe/Berlin", 2026, 3, 29) == ["03:00:00+0200"]

    @pytest.mark.parametrize("expr", ["30 2 * * *", "0 30 2 * * *"])
    def test_berlin_fall_back_fires_once_at_first_occurrence(self, expr):
        assert fires_on_local_day(expr, "Europe/Berlin", 2026, 10, 25) == ["02:30:00+0200"]

    @pytest.mark.parametrize("expr", ["30 1 * * *", "0 30 1 * * *"])
    def test_new_york_fall_back_repeated_hour_fires_once(self, expr):
        assert fires_on_local_day(expr, "America/New_York", 2026, 11, 1) == ["01:30:00-0400"]

    @pytest.mark.parametrize("expr", ["30 2 * * *", "0 30 2 * * *"])
    def test_new_york_spring_forward(self, expr):
        assert fires_on_local_day(expr, "America/New_York", 2026, 3, 8) == ["03:00:00-0400"]

    @pytest.mark.parametrize("expr", ["30 * * * *", "0 30 * * * *"])
    def test_hourly_follows_elapsed_time(self, expr):
        assert len(fires_on_local_day(expr, "Europe/Berlin", 2026, 3, 29)) == 23
        assert len(fires_on_local_day(expr, "Europe/Berlin", 2026, 10, 25)) == 25
        assert len(fires_on_local_day(expr, "America/New_York", 2026, 3, 8)) == 23
        assert len(fires_on_local_day(expr, "America/New_York", 2026, 11, 1)) == 25

    def test_several_times_inside_the_gap_collapse_to_one(self):
        assert fires_on_local_day("*/20 2 * * *", "Europe/Berlin", 2026, 3, 29) == ["03:00:00+0200"]
        assert fires_on_local_day("*/20 2 * * *", "Europe/Berlin", 2026, 10, 25) == [
            "02:00:00+0200", "02:20:00+0200", "02:40:00+0200"]

    def test_midnight_daily_is_unaffected_in_berlin(self):
        assert fires_on_local_day("0 0 * * *", "Europe/Berlin", 2026, 3, 29) == ["00:00:00+0100"]
        assert fires_on_local_day("0 0 * * *", "Europe/Berlin", 2026, 10, 25) == ["00:00:00+0200"]

    def test_ordinary_day_is_unaffected(self):
        assert len(fires_on_local_day("0 30 * * * *", "Europe/Berlin", 2026, 6, 1)) == 24
