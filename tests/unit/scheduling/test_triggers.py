from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from shared.scheduling.cron import CronExpression
from shared.scheduling.triggers import CronTrigger

UTC = timezone.utc


def trigger(expr, zone="UTC", start=None, end=None):
    return CronTrigger(CronExpression(expr), ZoneInfo(zone), start, end)


def test_start_in_the_past_does_not_fire_immediately():
    t = trigger("0 3 * * *", start=datetime(2020, 1, 1, tzinfo=UTC))
    now = datetime(2026, 5, 5, 12, 0, tzinfo=UTC)
    assert t.next_after(now) == datetime(2026, 5, 6, 3, 0, tzinfo=UTC)


def test_start_in_the_future_bounds_first_fire_and_can_itself_fire():
    start = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    t = trigger("0 3 * * *", start=start)
    assert t.next_after(datetime(2026, 5, 1, tzinfo=UTC)) == start


def test_end_time_exhausts_the_trigger():
    end = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
    t = trigger("0 3 * * *", end=end)
    assert t.next_after(datetime(2026, 6, 1, 12, tzinfo=UTC)) == end
    assert t.next_after(end) is None


def test_fire_times_are_increasing_and_limited():
    t = trigger("*/15 * * * *")
    fires = list(t.fire_times(datetime(2026, 1, 1, tzinfo=UTC), limit=5))
    assert len(fires) == 5
    assert all(b - a == timedelta(minutes=15) for a, b in zip(fires, fires[1:]))


def test_previous_before_finds_the_interval_start():
    t = trigger("0 2 * * *", "Europe/Berlin")
    slot = datetime(2026, 7, 10, 0, 0, tzinfo=UTC)  # 02:00 CEST
    assert t.previous_before(slot) == slot - timedelta(days=1)


def test_previous_before_rare_expression_and_before_start():
    leap = trigger("0 0 29 2 *")
    slot = datetime(2028, 2, 29, tzinfo=UTC)
    assert leap.previous_before(slot) == datetime(2024, 2, 29, tzinfo=UTC)
    started = trigger("0 * * * *", start=datetime(2026, 1, 1, 5, tzinfo=UTC))
    assert started.previous_before(datetime(2026, 1, 1, 5, tzinfo=UTC)) is None


def test_previous_fire_is_found_across_a_decade_long_gap():
    # NCRONTAB: 24 December must also be a Saturday; after 2022 that happens again in 2033.
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from shared.scheduling.cron import CronExpression
    from shared.scheduling.triggers import CronTrigger

    trigger = CronTrigger(CronExpression("0 0 */4 24 12 6"), ZoneInfo("Europe/Berlin"), None, None)
    first_2033 = trigger.next_after(datetime(2023, 1, 1, tzinfo=timezone.utc))
    assert first_2033 == datetime(2033, 12, 23, 23, 0, tzinfo=timezone.utc)  # 00:00 Berlin on the 24th
    assert trigger.previous_before(first_2033) == datetime(2022, 12, 24, 19, 0, tzinfo=timezone.utc)
