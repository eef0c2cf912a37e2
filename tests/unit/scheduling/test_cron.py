from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from shared.scheduling import ScheduleError
from shared.scheduling.cron import CronExpression
from shared.scheduling.triggers import CronTrigger
from tests.unit.scheduling.oracle import (cron_walls, day_bounds, expected_fires, fires_between, local_window,
                                          matching_times, transitions)

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


def noon_fires_in(expr: str, year: int) -> list[date]:
    """The days of one year (UTC) on which an expression that fires at noon fires."""
    cron = CronExpression(expr)
    out, cursor = [], datetime(year, 1, 1, tzinfo=UTC)
    while (cursor := cron.next_after(cursor, UTC)) is not None and cursor.year == year:
        assert (cursor.hour, cursor.minute, cursor.second) == (12, 0, 0)
        out.append(cursor.date())
    return out


def days_of(year: int, keep) -> list[date]:
    first = date(year, 1, 1)
    days = (first + timedelta(days=n) for n in range(366))
    return [d for d in days if d.year == year and keep(d)]


FRIDAY = 4  # date.weekday()


class TestDayFields:
    """When both day fields are restricted: 6 fields (NCRONTAB) need both, 5 fields either."""

    def test_six_fields_need_both(self):
        assert noon_fires_in("0 0 12 13 * 5", 2026) == days_of(2026, lambda d: d.day == 13 and d.weekday() == FRIDAY)
        assert noon_fires_in("0 0 12 13 * 5", 2026) == [date(2026, 2, 13), date(2026, 3, 13), date(2026, 11, 13)]

    def test_five_fields_need_either(self):
        assert noon_fires_in("0 12 13 * 5", 2026) == days_of(2026, lambda d: d.day == 13 or d.weekday() == FRIDAY)

    def test_five_fields_need_both_once_a_day_field_starts_with_a_star(self):
        # Vixie cron's rule, which cronsim follows: `*/2` counts as unrestricted here.
        assert noon_fires_in("0 12 */2 * 5", 2026) == days_of(2026, lambda d: d.day % 2 == 1 and d.weekday() == FRIDAY)

    @pytest.mark.parametrize("expr", ["0 0 12 * * 5", "0 0 12 */2 * 5", "0 0 12 13 * *"])
    def test_a_star_in_a_six_field_day_field_leaves_the_other_to_decide(self, expr):
        five = expr.split(" ", 1)[1]
        assert noon_fires_in(expr, 2026) == noon_fires_in(five, 2026)

    def test_six_fields_combine_last_day_and_last_weekday(self):
        # `L` and `5L` (last Friday) are cronsim's own; NCrontab has neither.
        last_day_and_friday = days_of(2026, lambda d: (d + timedelta(days=1)).day == 1 and d.weekday() == FRIDAY)
        assert noon_fires_in("0 0 12 L * 5L", 2026) == last_day_and_friday == [date(2026, 7, 31)]

    def test_rare_days_are_found_years_ahead(self):
        cron = CronExpression("0 0 0 29 Feb Mon")
        fires = [cron.next_after(datetime(2026, 1, 1, tzinfo=UTC), UTC)]
        fires.append(cron.next_after(fires[0], UTC))
        assert fires == [datetime(2044, 2, 29, tzinfo=UTC), datetime(2072, 2, 29, tzinfo=UTC)]

    @pytest.mark.parametrize("expr", ["0 0 0 31 2 MON", "0 0 0 1-7 * MON#2", "0 0 0 31 4,6 FRI"])
    def test_six_fields_that_never_match_both_are_refused(self, expr):
        with pytest.raises(ScheduleError) as err:
            CronExpression(expr)
        assert err.value.field == "trigger.cron"

    def test_the_same_day_fields_in_five_fields_can_fire(self):
        assert CronExpression("0 0 31 2 MON").next_after(datetime(2026, 1, 1, tzinfo=UTC), UTC) == datetime(
            2026, 2, 2, tzinfo=UTC)


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


class TestChangeDays:
    """Run counts on the short and the long day of each kind of change, 2026.

    Berlin and New York shift an hour at night, Lord Howe shifts 30 minutes, Santiago and
    Havana change at midnight (Santiago skips 00:00-00:59 in September and repeats
    23:00-23:59 in April; Havana skips 00:00-00:59 in March and repeats it in November).
    """

    # zone, short day, its length in hours, long day, its length
    DAYS = [
        ("Europe/Berlin", date(2026, 3, 29), 23, date(2026, 10, 25), 25),
        ("America/New_York", date(2026, 3, 8), 23, date(2026, 11, 1), 25),
        ("Australia/Lord_Howe", date(2026, 10, 4), 23.5, date(2026, 4, 5), 24.5),
        ("America/Santiago", date(2026, 9, 6), 23, date(2026, 4, 4), 25),
        ("America/Havana", date(2026, 3, 8), 23, date(2026, 11, 1), 25),
    ]
    # expression -> zone -> (fires on the short day, fires on the long day)
    COUNTS = {
        "30 2 * * *": {z[0]: (1, 1) for z in DAYS},
        "0 0 * * *": {z[0]: (1, 1) for z in DAYS},
        # Elapsed time: every real occurrence of hh:30. Lord Howe's gap (02:00-02:29)
        # keeps 02:30 and its repeated half hour (01:30-01:59) holds a second 01:30.
        "30 * * * *": {"Europe/Berlin": (23, 25), "America/New_York": (23, 25),
                       "Australia/Lord_Howe": (24, 25), "America/Santiago": (23, 25),
                       "America/Havana": (23, 25)},
    }

    def fires(self, expr, zone_name, day):
        start, end = day_bounds(zone_name, day)
        trigger = CronTrigger(CronExpression(expr), ZoneInfo(zone_name))
        return [f for f in fires_between(trigger, start, end) if f < end], end - start

    @pytest.mark.parametrize("expr", sorted(COUNTS))
    @pytest.mark.parametrize("zone_name, short, short_hours, long, long_hours", DAYS)
    def test_run_counts(self, expr, zone_name, short, short_hours, long, long_hours):
        short_fires, short_length = self.fires(expr, zone_name, short)
        long_fires, long_length = self.fires(expr, zone_name, long)
        assert short_length == timedelta(hours=short_hours)
        assert long_length == timedelta(hours=long_hours)
        assert (len(short_fires), len(long_fires)) == self.COUNTS[expr][zone_name]

    @pytest.mark.parametrize("zone_name, short, short_hours, long, long_hours", DAYS)
    def test_six_field_form_counts_the_same(self, zone_name, short, short_hours, long, long_hours):
        for five, six in (("30 2 * * *", "0 30 2 * * *"), ("0 0 * * *", "0 0 0 * * *"), ("30 * * * *", "0 30 * * * *")):
            for day in (short, long):
                assert self.fires(five, zone_name, day)[0] == self.fires(six, zone_name, day)[0]

    def local(self, expr, zone_name, day):
        return [f.astimezone(ZoneInfo(zone_name)).strftime("%H:%M%z") for f in self.fires(expr, zone_name, day)[0]]

    def test_midnight_that_does_not_exist_fires_when_the_gap_ends(self):
        assert self.local("0 0 * * *", "America/Santiago", date(2026, 9, 6)) == ["01:00-0300"]
        assert self.local("0 0 * * *", "America/Havana", date(2026, 3, 8)) == ["01:00-0400"]

    def test_midnight_that_happens_twice_fires_once(self):
        assert self.local("0 0 * * *", "America/Havana", date(2026, 11, 1)) == ["00:00-0400"]
        assert self.local("30 23 * * *", "America/Santiago", date(2026, 4, 4)) == ["23:30-0300"]

    def test_lord_howe_half_hour_shift(self):
        assert self.local("0 2 * * *", "Australia/Lord_Howe", date(2026, 10, 4)) == ["02:30+1100"]
        assert self.local("45 1 * * *", "Australia/Lord_Howe", date(2026, 4, 5)) == ["01:45+1100"]
        elapsed = self.local("30 * * * *", "Australia/Lord_Howe", date(2026, 4, 5))
        assert elapsed[:4] == ["00:30+1100", "01:30+1100", "01:30+1030", "02:30+1030"]


# -- properties against cronsim and against the independent oracle -------------------------

FIXED_ZONES = ["UTC", "Etc/GMT+5", "Etc/GMT-14", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo"]
DST_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
             "America/Havana", "Asia/Beirut", "Australia/Sydney", "America/Nuuk"]


def _field(low, high, *, min_step=1):
    value = st.integers(low, high)
    return st.one_of(
        st.just("*"),
        st.integers(min_step, max(min_step, (high - low + 1) // 2)).map(lambda n: f"*/{n}"),
        value.map(str),
        st.tuples(value, value).map(lambda ab: f"{min(ab)}-{max(ab)}"),
        st.lists(value, min_size=2, max_size=4, unique=True).map(lambda xs: ",".join(map(str, sorted(xs)))),
        st.tuples(value, value, st.integers(min_step, 12)).map(lambda t: f"{min(t[:2])}-{max(t[:2])}/{t[2]}"),
    )


@st.composite
def cron_expressions(draw, *, sparse=False):
    """Random 5- or 6-field expressions; `sparse` keeps them to a few fires an hour."""
    if sparse:
        minute = draw(st.one_of(st.integers(0, 59).map(str),
                                st.lists(st.integers(0, 59), min_size=2, max_size=3, unique=True)
                                .map(lambda xs: ",".join(map(str, sorted(xs)))),
                                st.sampled_from(["*/15", "*/20", "*/30", "5-59/10"])))
        second = draw(st.integers(0, 59).map(str))
    else:
        minute = draw(_field(0, 59))
        second = draw(_field(0, 59))
    # Elapsed time (hour `*`) and wall-clock time get about equal shares.
    hour = draw(st.one_of(st.just("*"), _field(0, 23)))
    day = draw(st.one_of(st.just("*"), _field(1, 28)))
    month = draw(st.one_of(st.just("*"), st.just("*"), _field(1, 12)))
    weekday = draw(st.one_of(st.just("*"), st.just("*"), _field(0, 6), st.just("MON-FRI")))
    five = f"{minute} {hour} {day} {month} {weekday}"
    return f"{second} {five}" if draw(st.booleans()) else five


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC))
PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def first_fires(trigger, after, count):
    return list(trigger.fire_times(after, limit=count))


def cronsim_fires(expr, after, zone, count, until):
    out = []
    for fire in matching_times(expr, after.astimezone(zone), until.astimezone(zone)):
        out.append(fire.astimezone(UTC))
        if len(out) == count:
            return out
    return out


class TestAgainstCronsim:
    """Where no offset changes, our fire times are cronsim's, for any expression (with the
    NCRONTAB day rule for 6 fields, rebuilt by the oracle's `matching_times`).

    On DST change days our rule deliberately differs from raw cronsim (6-field expressions,
    30-minute shifts, `*/n` hour fields), so there the oracle below is used instead."""

    @PROPERTIES
    @given(expr=cron_expressions(), zone_name=st.sampled_from(FIXED_ZONES), after=instants)
    def test_fixed_offset_zones_match_cronsim(self, expr, zone_name, after):
        zone = ZoneInfo(zone_name)
        horizon = after + timedelta(days=3 * 366)
        ours = [f for f in first_fires(CronTrigger(CronExpression(expr), zone), after, 40) if f <= horizon]
        assert ours == cronsim_fires(expr, after, zone, 40, horizon)

    @PROPERTIES
    @given(expr=cron_expressions(sparse=True), zone_name=st.sampled_from(DST_ZONES),
           after=st.datetimes(min_value=datetime(2021, 1, 1), max_value=datetime(2029, 1, 1)))
    def test_dst_zones_match_cronsim_away_from_changes(self, expr, zone_name, after):
        after = after.replace(tzinfo=UTC)
        window_end = after + timedelta(days=20)
        assume(not any(after - timedelta(days=1) <= t <= window_end for t in transitions(zone_name)))
        zone = ZoneInfo(zone_name)
        ours = [f for f in first_fires(CronTrigger(CronExpression(expr), zone), after, 60) if f <= window_end]
        theirs = cronsim_fires(expr, after, zone, 60, window_end)
        assert ours == theirs


class TestDstInvariants:
    """Across real changes: every matching local time fires exactly as the rule says.

    Wall-clock expressions: each matching local time fires once (first pass if repeated,
    gap end if skipped). Elapsed-time expressions (hour `*`): each real occurrence fires.
    Nothing else fires, nothing fires twice, and fire times strictly increase."""

    @PROPERTIES
    @given(expr=cron_expressions(sparse=True), zone_name=st.sampled_from(DST_ZONES),
           change_index=st.integers(0, 20), before=st.integers(1, 30 * 60), after=st.integers(1, 30 * 60))
    # The cases raw cronsim gets wrong: half-hour shift, elapsed time, both directions.
    @example(expr="30 * * * *", zone_name="Australia/Lord_Howe", change_index=12, before=120, after=120)
    @example(expr="30 * * * *", zone_name="Australia/Lord_Howe", change_index=13, before=120, after=120)
    @example(expr="0 30 2 * * *", zone_name="Europe/Berlin", change_index=12, before=600, after=600)
    @example(expr="0 0 * * *", zone_name="America/Santiago", change_index=13, before=600, after=600)
    # Both day fields in 6 fields: only the last Sunday of March fires, inside the gap.
    @example(expr="0 30 2 25-31 3 SUN", zone_name="Europe/Berlin", change_index=12, before=1800, after=600)
    def test_fires_match_the_oracle_around_a_change(self, expr, zone_name, change_index, before, after):
        changes = transitions(zone_name)
        change = changes[change_index % len(changes)]
        low, high = change - timedelta(minutes=before), change + timedelta(minutes=after)
        zone = ZoneInfo(zone_name)
        cron = CronExpression(expr)
        ours = fires_between(CronTrigger(cron, zone), low, high)
        walls = cron_walls(expr, *local_window(low, high, zone))
        assert ours == expected_fires(walls, zone_name, elapsed=cron.elapsed_time, low=low, high=high)
        assert all(a < b for a, b in zip(ours, ours[1:]))

    @PROPERTIES
    @given(expr=cron_expressions(sparse=True), zone_name=st.sampled_from(DST_ZONES), data=st.data())
    def test_previous_before_walks_the_same_fires_back(self, expr, zone_name, data):
        change = data.draw(st.sampled_from(transitions(zone_name)))
        trigger = CronTrigger(CronExpression(expr), ZoneInfo(zone_name))
        fires = first_fires(trigger, change - timedelta(hours=3), 8)
        for earlier, later in zip(fires, fires[1:]):
            assert trigger.previous_before(later) == earlier
