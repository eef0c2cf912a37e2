import calendar
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.scheduling import ScheduleError
from shared.scheduling.cron import CronExpression
from shared.scheduling.recurrence import WEEK_DAYS, Recurrence, RecurrenceTrigger
from shared.scheduling.triggers import CronTrigger
from tests.unit.scheduling.oracle import day_bounds, fires_between, transitions, wall_clock_instant

UTC = timezone.utc
NOW = datetime(2026, 5, 5, 12, 0, tzinfo=UTC)


def trigger(doc, zone="UTC", start=None, end=None):
    return RecurrenceTrigger(Recurrence.parse(doc), ZoneInfo(zone), start, end)


def local(fires, zone):
    return [f.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M%z") for f in fires]


class TestParsing:
    def test_canonical_form(self):
        r = Recurrence.parse({"frequency": "week", "interval": 2, "hours": [14, 9], "minutes": 30,
                              "weekDays": ["friday", "Monday"]})
        assert r.to_dict() == {"frequency": "Week", "interval": 2, "hours": [9, 14], "minutes": [30],
                               "weekDays": ["Monday", "Friday"]}
        assert Recurrence.parse(r.to_dict()) == r

    @pytest.mark.parametrize("doc, field", [
        ([], "trigger.recurrence"),
        ({"frequency": "Day"}, "trigger.recurrence.interval"),
        ({"frequency": "Day", "interval": 0}, "trigger.recurrence.interval"),
        ({"frequency": "Day", "interval": True}, "trigger.recurrence.interval"),
        ({"frequency": "Day", "interval": 1.5}, "trigger.recurrence.interval"),
        ({"frequency": "Day", "interval": 1001}, "trigger.recurrence.interval"),
        ({"interval": 1}, "trigger.recurrence.frequency"),
        ({"frequency": "Year", "interval": 1}, "trigger.recurrence.frequency"),
        ({"frequency": "Day", "interval": 1, "schedule": {}}, "trigger.recurrence.schedule"),
        ({"frequency": "Day", "interval": 1, "hours": [1, 2, 24]}, "trigger.recurrence.hours[2]"),
        ({"frequency": "Day", "interval": 1, "hours": [1, "2"]}, "trigger.recurrence.hours[1]"),
        ({"frequency": "Day", "interval": 1, "hours": [3, 3]}, "trigger.recurrence.hours[1]"),
        ({"frequency": "Day", "interval": 1, "hours": []}, "trigger.recurrence.hours"),
        ({"frequency": "Day", "interval": 1, "minutes": [60]}, "trigger.recurrence.minutes[0]"),
        ({"frequency": "Week", "interval": 1, "weekDays": ["Monday", "Funday"]}, "trigger.recurrence.weekDays[1]"),
        ({"frequency": "Week", "interval": 1, "weekDays": [1]}, "trigger.recurrence.weekDays[0]"),
        ({"frequency": "Week", "interval": 1, "weekDays": ["monday", "Monday"]}, "trigger.recurrence.weekDays[1]"),
        ({"frequency": "Month", "interval": 1, "monthDays": [0]}, "trigger.recurrence.monthDays[0]"),
        ({"frequency": "Month", "interval": 1, "monthDays": [15, 32]}, "trigger.recurrence.monthDays[1]"),
    ])
    def test_rejects_with_the_field_named(self, doc, field):
        with pytest.raises(ScheduleError) as err:
            Recurrence.parse(doc)
        assert err.value.field == field

    @pytest.mark.parametrize("frequency, key, value", [
        # AML v1: hours and minutes only for Day and Week (v2 adds Month); weekDays only for Week.
        ("Minute", "hours", [1]), ("Hour", "minutes", [0]), ("Minute", "weekDays", ["Monday"]),
        ("Day", "weekDays", ["Monday"]), ("Month", "weekDays", ["Monday"]),
        ("Day", "monthDays", [1]), ("Week", "monthDays", [1]), ("Hour", "monthDays", [1]),
    ])
    def test_pattern_lists_apply_to_some_frequencies_only(self, frequency, key, value):
        with pytest.raises(ScheduleError) as err:
            Recurrence.parse({"frequency": frequency, "interval": 1, key: value})
        assert err.value.field == f"trigger.recurrence.{key}"
        assert "applies to frequency" in err.value.message


class TestFrequencies:
    def test_minute_counts_from_the_start(self):
        t = trigger({"frequency": "Minute", "interval": 45}, start=datetime(2026, 5, 1, 8, 10, tzinfo=UTC))
        assert list(t.fire_times(datetime(2026, 5, 1, 9, 0, tzinfo=UTC), limit=3)) == [
            datetime(2026, 5, 1, 9, 40, tzinfo=UTC), datetime(2026, 5, 1, 10, 25, tzinfo=UTC),
            datetime(2026, 5, 1, 11, 10, tzinfo=UTC)]

    def test_hour_without_start_counts_from_local_midnight_1970(self):
        t = trigger({"frequency": "Hour", "interval": 5}, "Asia/Kolkata")
        # Local midnight of 2026-05-01 is 1 hour past a multiple of 5 hours since the anchor,
        # so the day's fires are 04:00, 09:00, 14:00, ...; 05:30 local is the `after`.
        assert (date(2026, 5, 1) - date(1970, 1, 1)).days * 24 % 5 == 1
        assert local(t.fire_times(datetime(2026, 5, 1, tzinfo=UTC), limit=3), "Asia/Kolkata") == [
            "Fri 2026-05-01 09:00+0530", "Fri 2026-05-01 14:00+0530", "Fri 2026-05-01 19:00+0530"]

    def test_day_interval_counts_days_from_the_start_date(self):
        t = trigger({"frequency": "Day", "interval": 3, "hours": [6], "minutes": [0, 30]},
                    start=datetime(2026, 5, 1, 7, 0, tzinfo=UTC))
        assert local(t.fire_times(NOW - timedelta(days=5), limit=5), "UTC") == [
            "Mon 2026-05-04 06:00+0000", "Mon 2026-05-04 06:30+0000", "Thu 2026-05-07 06:00+0000",
            "Thu 2026-05-07 06:30+0000", "Sun 2026-05-10 06:00+0000"]

    def test_day_without_pattern_fires_at_the_start_time_of_day(self):
        start = datetime(2026, 5, 1, 7, 15, 30, tzinfo=UTC)
        t = trigger({"frequency": "Day", "interval": 2}, start=start)
        assert list(t.fire_times(start - timedelta(days=1), limit=2)) == [start, start + timedelta(days=2)]

    def test_missing_hours_or_minutes_come_from_the_start(self):
        start = datetime(2026, 5, 1, 7, 15, 30, tzinfo=UTC)
        only_hours = trigger({"frequency": "Day", "interval": 1, "hours": [9]}, start=start)
        only_minutes = trigger({"frequency": "Day", "interval": 1, "minutes": [0, 45]}, start=start)
        # Listed values fire on the whole minute.
        assert only_hours.first_at_or_after(start) == datetime(2026, 5, 1, 9, 15, tzinfo=UTC)
        assert list(only_minutes.fire_times(start, limit=2)) == [
            datetime(2026, 5, 1, 7, 45, tzinfo=UTC), datetime(2026, 5, 2, 7, 0, tzinfo=UTC)]

    def test_week_interval_counts_iso_weeks_from_the_start(self):
        # 2026-05-06 is a Wednesday: its week (from Monday 05-04) is week 0.
        t = trigger({"frequency": "Week", "interval": 2, "weekDays": ["Monday", "Friday"], "hours": [9],
                     "minutes": [0]}, start=datetime(2026, 5, 6, tzinfo=UTC))
        assert local(t.fire_times(datetime(2026, 5, 1, tzinfo=UTC), limit=5), "UTC") == [
            "Fri 2026-05-08 09:00+0000", "Mon 2026-05-18 09:00+0000", "Fri 2026-05-22 09:00+0000",
            "Mon 2026-06-01 09:00+0000", "Fri 2026-06-05 09:00+0000"]

    def test_week_without_week_days_uses_the_start_weekday(self):
        t = trigger({"frequency": "Week", "interval": 1, "hours": [9], "minutes": [0]},
                    start=datetime(2026, 5, 6, tzinfo=UTC))
        assert all(f.weekday() == 2 for f in t.fire_times(NOW, limit=4))

    def test_month_days_skip_months_without_that_day(self):
        t = trigger({"frequency": "Month", "interval": 1, "monthDays": [31], "hours": [0], "minutes": [0]})
        fires = list(t.fire_times(datetime(2026, 1, 1, tzinfo=UTC), limit=7))
        assert [f.strftime("%m-%d") for f in fires] == ["01-31", "03-31", "05-31", "07-31", "08-31", "10-31", "12-31"]

    def test_month_day_29_fires_in_february_of_leap_years_only(self):
        t = trigger({"frequency": "Month", "interval": 12, "monthDays": [29], "hours": [6], "minutes": [0]},
                    start=datetime(2025, 2, 1, tzinfo=UTC))
        assert [f.year for f in t.fire_times(datetime(2025, 1, 1, tzinfo=UTC), limit=3)] == [2028, 2032, 2036]

    def test_month_interval_counts_months_from_the_start(self):
        t = trigger({"frequency": "Month", "interval": 2, "monthDays": [1, 15], "hours": [8], "minutes": [0]},
                    start=datetime(2026, 1, 20, tzinfo=UTC))
        assert [f.strftime("%m-%d") for f in t.fire_times(datetime(2026, 1, 1, tzinfo=UTC), limit=4)] == [
            "03-01", "03-15", "05-01", "05-15"]

    def test_month_without_month_days_uses_the_start_day(self):
        t = trigger({"frequency": "Month", "interval": 1}, start=datetime(2026, 1, 30, 6, tzinfo=UTC))
        assert [f.strftime("%m-%d %H") for f in t.fire_times(datetime(2026, 1, 1, tzinfo=UTC), limit=3)] == [
            "01-30 06", "03-30 06", "04-30 06"]


class TestBounds:
    def test_start_in_the_past_fires_at_the_next_computed_time_not_at_once(self):
        for doc in ({"frequency": "Day", "interval": 1, "hours": [3], "minutes": [0]},
                    {"frequency": "Hour", "interval": 7}):
            t = trigger(doc, start=datetime(2020, 1, 1, 0, 30, tzinfo=UTC))
            fire = t.next_after(NOW)
            assert fire > NOW and t.previous_before(fire) <= NOW
        assert trigger({"frequency": "Day", "interval": 1, "hours": [3], "minutes": [0]},
                       start=datetime(2020, 1, 1, tzinfo=UTC)).next_after(NOW) == datetime(2026, 5, 6, 3, tzinfo=UTC)

    def test_start_in_the_future_is_the_first_fire_when_it_matches(self):
        start = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
        assert trigger({"frequency": "Minute", "interval": 10}, start=start).next_after(NOW) == start
        assert trigger({"frequency": "Day", "interval": 1, "hours": [3], "minutes": [0]},
                       start=start).next_after(NOW) == start
        assert trigger({"frequency": "Day", "interval": 1, "hours": [2], "minutes": [0]},
                       start=start).next_after(NOW) == start + timedelta(hours=23)

    def test_end_is_inclusive_and_exhausts(self):
        end = datetime(2026, 5, 7, 3, 0, tzinfo=UTC)
        t = trigger({"frequency": "Day", "interval": 1, "hours": [3], "minutes": [0]}, end=end)
        assert list(t.fire_times(NOW, limit=5)) == [datetime(2026, 5, 6, 3, tzinfo=UTC), end]
        assert t.next_after(end) is None
        assert t.previous_before(datetime(2027, 1, 1, tzinfo=UTC)) == end

    def test_previous_before(self):
        start = datetime(2026, 5, 1, tzinfo=UTC)
        t = trigger({"frequency": "Week", "interval": 1, "weekDays": ["Tuesday"], "hours": [9], "minutes": [0]},
                    start=start)
        assert t.previous_before(datetime(2026, 5, 12, 9, tzinfo=UTC)) == datetime(2026, 5, 5, 9, tzinfo=UTC)
        assert t.previous_before(datetime(2026, 5, 5, 9, tzinfo=UTC)) is None
        hourly = trigger({"frequency": "Hour", "interval": 2}, start=start)
        assert hourly.previous_before(start + timedelta(hours=3)) == start + timedelta(hours=2)
        assert hourly.previous_before(start) is None

    def test_without_start_the_fire_times_depend_on_the_definition_only(self):
        doc = {"frequency": "Day", "interval": 3, "hours": [4], "minutes": [0]}
        a, b = trigger(doc, "Europe/Berlin"), trigger(doc, "Europe/Berlin")
        assert a == b
        assert list(a.fire_times(NOW, limit=3)) == list(b.fire_times(NOW - timedelta(days=30), limit=13))[-3:]


class TestDaylightSavingTime:
    """Day/Week/Month follow the cron wall-clock rule; Minute/Hour follow elapsed time."""

    DAYS = [
        ("Europe/Berlin", date(2026, 3, 29), date(2026, 10, 25)),
        ("America/New_York", date(2026, 3, 8), date(2026, 11, 1)),
        ("Australia/Lord_Howe", date(2026, 10, 4), date(2026, 4, 5)),
        ("America/Santiago", date(2026, 9, 6), date(2026, 4, 4)),
        ("America/Havana", date(2026, 3, 8), date(2026, 11, 1)),
    ]
    DAILY_0230 = {"frequency": "Day", "interval": 1, "hours": [2], "minutes": [30]}

    def fires(self, doc, zone_name, day, start=None):
        low, high = day_bounds(zone_name, day)
        return [f for f in fires_between(trigger(doc, zone_name, start), low, high) if f < high]

    @pytest.mark.parametrize("zone_name, short, long", DAYS)
    def test_daily_0230_fires_once_on_both_change_days(self, zone_name, short, long):
        cron = CronTrigger(CronExpression("30 2 * * *"), ZoneInfo(zone_name))
        for day in (short, long):
            fires = self.fires(self.DAILY_0230, zone_name, day)
            assert len(fires) == 1
            low, high = day_bounds(zone_name, day)
            assert fires == [f for f in fires_between(cron, low, high) if f < high]

    def test_daily_0230_in_the_gap_fires_when_it_ends(self):
        assert local(self.fires(self.DAILY_0230, "Europe/Berlin", date(2026, 3, 29)), "Europe/Berlin") == [
            "Sun 2026-03-29 03:00+0200"]
        assert local(self.fires(self.DAILY_0230, "Europe/Berlin", date(2026, 10, 25)), "Europe/Berlin") == [
            "Sun 2026-10-25 02:30+0200"]

    def test_midnight_changes(self):
        midnight = {"frequency": "Day", "interval": 1, "hours": [0], "minutes": [0]}
        assert local(self.fires(midnight, "America/Santiago", date(2026, 9, 6)), "America/Santiago") == [
            "Sun 2026-09-06 01:00-0300"]
        assert local(self.fires(midnight, "America/Havana", date(2026, 11, 1)), "America/Havana") == [
            "Sun 2026-11-01 00:00-0400"]

    def test_previous_before_an_instant_in_the_repeated_hour(self):
        t = trigger({"frequency": "Day", "interval": 1, "hours": [1], "minutes": [30]}, "America/New_York")
        second_pass = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 01:10 EST, after 01:30 EDT
        assert t.previous_before(second_pass) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)

    @pytest.mark.parametrize("zone_name, short, long", [d for d in DAYS if d[0] != "Australia/Lord_Howe"])
    def test_hourly_is_elapsed_time(self, zone_name, short, long):
        hourly = {"frequency": "Hour", "interval": 1}
        assert len(self.fires(hourly, zone_name, short)) == 23
        assert len(self.fires(hourly, zone_name, long)) == 25

    def test_hourly_across_a_half_hour_shift_keeps_sixty_real_minutes(self):
        hourly = {"frequency": "Hour", "interval": 1}
        # Anchored on whole UTC hours: the 23.5-hour day holds 23 of them, the 24.5-hour day 25.
        start = datetime(2026, 1, 1, 0, 0, tzinfo=ZoneInfo("Australia/Lord_Howe")).astimezone(UTC)
        for day, count in ((date(2026, 10, 4), 23), (date(2026, 4, 5), 25)):
            fires = self.fires(hourly, "Australia/Lord_Howe", day, start)
            assert len(fires) == count
            assert all(b - a == timedelta(hours=1) for a, b in zip(fires, fires[1:]))
        # Local minutes move with the offset: on the hour in summer time, :30 after the change.
        assert {f.astimezone(ZoneInfo("Australia/Lord_Howe")).minute
                for f in self.fires(hourly, "Australia/Lord_Howe", date(2026, 4, 5), start)} == {0, 30}


# -- properties -----------------------------------------------------------------------------

DST_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
             "America/Havana", "Asia/Beirut", "UTC", "Asia/Kolkata"]
PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
hours = st.lists(st.integers(0, 23), min_size=1, max_size=3, unique=True)
minutes = st.lists(st.integers(0, 59), min_size=1, max_size=3, unique=True)
week_days = st.lists(st.integers(0, 6), min_size=1, max_size=3, unique=True)
month_days = st.lists(st.integers(1, 31), min_size=1, max_size=3, unique=True)


def near_a_change(zone_name, index, minutes_before):
    changes = transitions(zone_name)
    if not changes:
        return datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=index * 17)
    return changes[index % len(changes)] - timedelta(minutes=minutes_before)


@st.composite
def calendar_recurrences(draw):
    frequency = draw(st.sampled_from(["Day", "Week", "Month"]))
    doc = {"frequency": frequency, "interval": draw(st.integers(1, 5)), "hours": draw(hours),
           "minutes": draw(minutes)}
    if frequency == "Week":
        doc["weekDays"] = [WEEK_DAYS[d] for d in draw(week_days)]
    if frequency == "Month":
        doc["monthDays"] = draw(month_days)
    return doc


def brute_force(doc, zone_name, anchor: date, low, high):
    """Every local date the interval selects, every time of day, mapped by the oracle."""
    zone = ZoneInfo(zone_name)
    first = low.astimezone(zone).date() - timedelta(days=2)
    last = high.astimezone(zone).date() + timedelta(days=2)
    monday = anchor - timedelta(days=anchor.weekday())
    out = set()
    day = first
    while day <= last:
        if doc["frequency"] == "Day":
            chosen = (day - anchor).days % doc["interval"] == 0
        elif doc["frequency"] == "Week":
            chosen = ((day - monday).days // 7) % doc["interval"] == 0 and WEEK_DAYS[day.weekday()] in doc["weekDays"]
        else:
            months = (day.year - anchor.year) * 12 + day.month - anchor.month
            chosen = months % doc["interval"] == 0 and day.day in doc["monthDays"]
        if chosen:
            for h in doc["hours"]:
                for m in doc["minutes"]:
                    out.add(wall_clock_instant(datetime.combine(day, time(h, m)), zone_name))
        day += timedelta(days=1)
    return sorted(t for t in out if low <= t <= high)


class TestProperties:
    @PROPERTIES
    @given(doc=calendar_recurrences(), zone_name=st.sampled_from(DST_ZONES), index=st.integers(0, 20),
           before=st.integers(0, 60 * 24 * 40), span=st.integers(60, 60 * 24 * 70), with_start=st.booleans())
    @example(doc={"frequency": "Day", "interval": 2, "hours": [2], "minutes": [0, 30]}, zone_name="Europe/Berlin",
             index=12, before=600, span=1200, with_start=False)
    @example(doc={"frequency": "Day", "interval": 1, "hours": [0, 23], "minutes": [30]}, zone_name="America/Havana",
             index=13, before=600, span=1200, with_start=True)
    def test_calendar_frequencies_match_a_brute_force_enumeration(self, doc, zone_name, index, before, span,
                                                                  with_start):
        low = near_a_change(zone_name, index, before)
        high = low + timedelta(minutes=span)
        start = low - timedelta(days=50, minutes=before) if with_start else None
        t = trigger(doc, zone_name, start)
        anchor = start.astimezone(ZoneInfo(zone_name)).date() if start else date(1970, 1, 1)
        ours = fires_between(t, low, high)
        assert ours == brute_force(doc, zone_name, anchor, low, high)
        assert all(a < b for a, b in zip(ours, ours[1:]))
        for earlier, later in zip(ours, ours[1:]):
            assert t.previous_before(later) == earlier
        # Any instant, including one in the second pass of a repeated hour.
        for k in range(1, 8):
            probe = low + (high - low) * k / 8
            before_probe = [f for f in ours if f < probe]
            if before_probe:
                assert t.previous_before(probe) == before_probe[-1]

    @PROPERTIES
    @given(zone_name=st.sampled_from(DST_ZONES), hour_list=hours, minute_list=minutes, days=week_days,
           mdays=st.lists(st.integers(1, 28), min_size=1, max_size=3, unique=True),
           frequency=st.sampled_from(["Day", "Week", "Month"]), index=st.integers(0, 20),
           before=st.integers(0, 60 * 48))
    def test_interval_one_equals_the_cron_expression(self, zone_name, hour_list, minute_list, days, mdays,
                                                     frequency, index, before):
        doc = {"frequency": frequency, "interval": 1, "hours": hour_list, "minutes": minute_list}
        dom, dow = "*", "*"
        if frequency == "Week":
            doc["weekDays"] = [WEEK_DAYS[d] for d in days]
            dow = ",".join(str((d + 1) % 7) for d in days)  # cron counts from Sunday = 0
        if frequency == "Month":
            doc["monthDays"] = mdays
            dom = ",".join(map(str, mdays))
        expr = f"{','.join(map(str, minute_list))} {','.join(map(str, hour_list))} {dom} * {dow}"
        zone = ZoneInfo(zone_name)
        after = near_a_change(zone_name, index, before)
        ours = list(trigger(doc, zone_name).fire_times(after, limit=30))
        assert ours == list(CronTrigger(CronExpression(expr), zone).fire_times(after, limit=30))

    @PROPERTIES
    @given(frequency=st.sampled_from(["Minute", "Hour"]), interval=st.integers(1, 1000),
           zone_name=st.sampled_from(DST_ZONES), index=st.integers(0, 20), before=st.integers(0, 60 * 24 * 30),
           with_start=st.booleans())
    def test_minute_and_hour_are_anchor_plus_whole_steps(self, frequency, interval, zone_name, index, before,
                                                         with_start):
        after = near_a_change(zone_name, index, before)
        start = after - timedelta(days=3, seconds=before) if with_start else None
        t = trigger({"frequency": frequency, "interval": interval}, zone_name, start)
        anchor = start or wall_clock_instant(datetime(1970, 1, 1), zone_name)
        step = timedelta(minutes=interval) if frequency == "Minute" else timedelta(hours=interval)
        fires = list(t.fire_times(after, limit=5))
        assert fires[0] > after and fires[0] - step <= after
        for fire in fires:
            assert (fire - anchor) % step == timedelta(0)
        assert all(b - a == step for a, b in zip(fires, fires[1:]))
        assert t.previous_before(fires[0]) == (fires[0] - step if not start or fires[0] - step >= start else None)


def test_month_days_never_past_the_month_length():
    t = trigger({"frequency": "Month", "interval": 1, "monthDays": [28, 29, 30, 31], "hours": [12], "minutes": [0]})
    for fire in t.fire_times(datetime(2027, 1, 1, tzinfo=UTC), limit=60):
        assert fire.day <= calendar.monthrange(fire.year, fire.month)[1]
