from datetime import datetime, timedelta, timezone

import pytest

from shared.scheduling.cron import CronExpression
from shared.scheduling.recurrence import Recurrence, RecurrenceTrigger
from shared.scheduling.slots import MAX_FIRES_PER_TICK, ON_TIME_SECONDS, SKIP, plan_slots
from shared.scheduling.triggers import CronTrigger

UTC = timezone.utc
EVERY_MINUTE = CronTrigger(CronExpression("* * * * *"), UTC)
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def plan(cursor, now, misfire="latest", grace=3600, catchup=10, trig=EVERY_MINUTE):
    return plan_slots(trig, cursor, now, misfire=misfire, grace_seconds=grace, max_catchup=catchup)


def test_on_time_slot_fires_and_cursor_moves_to_the_next():
    p = plan(T0, T0 + timedelta(seconds=1))
    assert p.fires == [T0]
    assert p.next_cursor == T0 + timedelta(minutes=1)


def test_timer_a_hair_early_still_fires_the_slot():
    p = plan(T0, T0 - timedelta(milliseconds=300))
    assert p.fires == [T0]


def test_nothing_owed_before_the_cursor():
    p = plan(T0, T0 - timedelta(seconds=30))
    assert p.decisions == ()
    assert p.next_cursor == T0


def test_late_timer_within_on_time_window_fires_every_slot():
    p = plan(T0, T0 + timedelta(seconds=ON_TIME_SECONDS - 10))
    assert p.fires == [T0, T0 + timedelta(minutes=1)]


@pytest.mark.parametrize("misfire", ["latest", "all", "skip"])
def test_one_hour_outage(misfire):
    now = T0 + timedelta(hours=1)
    p = plan(T0, now, misfire=misfire, catchup=100)
    fired = p.fires
    skipped = sum(d.count for d in p.decisions if d.action == SKIP)
    left_for_next_tick = int((now - p.next_cursor) / timedelta(minutes=1)) + 1
    assert len(fired) + skipped + left_for_next_tick == 61  # every owed slot is decided, none lost
    on_time = [s for s in fired if now - s <= timedelta(seconds=ON_TIME_SECONDS)]
    assert on_time, "the current slot always fires"
    if misfire == "all":
        assert len(fired) == MAX_FIRES_PER_TICK
        assert p.next_cursor == T0 + timedelta(minutes=MAX_FIRES_PER_TICK)
    else:
        assert fired == on_time


def test_latest_fires_newest_missed_slot_when_no_slot_is_on_time():
    hourly = CronTrigger(CronExpression("0 * * * *"), UTC)
    now = T0 + timedelta(hours=5, minutes=30)
    p = plan(T0, now, trig=hourly)
    assert p.fires == [T0 + timedelta(hours=5)]
    assert sum(d.count for d in p.decisions if d.action == SKIP) == 5


def test_latest_respects_grace():
    hourly = CronTrigger(CronExpression("0 * * * *"), UTC)
    p = plan(T0, T0 + timedelta(hours=5, minutes=30), trig=hourly, grace=600)
    assert p.fires == []
    assert p.next_cursor == T0 + timedelta(hours=6)


def test_all_is_capped_per_tick_and_resumes():
    now = T0 + timedelta(minutes=30)
    p = plan(T0, now, misfire="all", catchup=10)
    assert p.fires == [T0 + timedelta(minutes=i) for i in range(10)]
    assert p.next_cursor == T0 + timedelta(minutes=10)
    again = plan(p.next_cursor, now, misfire="all", catchup=10)
    assert again.fires[0] == T0 + timedelta(minutes=10)


def test_three_day_outage_is_settled_with_bounded_decisions():
    now = T0 + timedelta(days=3)
    p = plan(T0, now, misfire="latest")
    assert len(p.decisions) <= 6
    assert sum(d.count for d in p.decisions) == 3 * 24 * 60 + 1
    summary = next(d for d in p.decisions if d.count > 1)
    assert summary.action == SKIP and summary.last_slot > summary.slot


def test_per_second_schedule_is_capped_per_tick():
    every_second = CronTrigger(CronExpression("* * * * * *"), UTC)
    p = plan(T0, T0 + timedelta(seconds=90), trig=every_second)
    assert len(p.fires) == MAX_FIRES_PER_TICK
    assert p.next_cursor == T0 + timedelta(seconds=MAX_FIRES_PER_TICK)


def test_exhausted_trigger_has_no_cursor():
    ending = CronTrigger(CronExpression("0 * * * *"), UTC, end=T0)
    p = plan(T0, T0 + timedelta(seconds=5), trig=ending)
    assert p.fires == [T0]
    assert p.next_cursor is None


class TestNotBeforeOffset:
    """With jitter a slot keeps its nominal instant but is owed only once slot + offset passes."""

    HOURLY = CronTrigger(CronExpression("0 * * * *"), UTC)
    OFFSET = timedelta(seconds=1500)

    def plan(self, now, cursor=T0, **kw):
        return plan_slots(self.HOURLY, cursor, now, misfire=kw.get("misfire", "latest"), grace_seconds=3600,
                          max_catchup=10, not_before_offset=self.OFFSET)

    def test_not_owed_before_the_offset(self):
        p = self.plan(T0 + self.OFFSET - timedelta(seconds=3))
        assert p.decisions == () and p.next_cursor == T0

    def test_owed_from_the_offset_with_the_nominal_slot(self):
        p = self.plan(T0 + self.OFFSET)
        assert p.fires == [T0]
        assert p.next_cursor == T0 + timedelta(hours=1)

    def test_lateness_counts_from_the_due_time(self):
        # 26 minutes after the nominal slot but one minute after it was due: on time.
        p = self.plan(T0 + self.OFFSET + timedelta(seconds=60), misfire="skip")
        assert p.fires == [T0]
        late = self.plan(T0 + self.OFFSET + timedelta(seconds=ON_TIME_SECONDS + 60), misfire="skip")
        assert late.fires == [] and late.decisions[0].action == SKIP

    def test_zero_offset_is_the_default(self):
        now = T0 + timedelta(seconds=5)
        with_default = plan_slots(self.HOURLY, T0, now, misfire="latest", grace_seconds=3600, max_catchup=10)
        explicit = plan_slots(self.HOURLY, T0, now, misfire="latest", grace_seconds=3600, max_catchup=10,
                              not_before_offset=timedelta(0))
        assert with_default == explicit and with_default.fires == [T0]


def test_plans_recurrence_triggers_too():
    every_ten = RecurrenceTrigger(Recurrence.parse({"frequency": "Minute", "interval": 10}), UTC, start=T0)
    p = plan(T0, T0 + timedelta(minutes=20, seconds=5), misfire="all", trig=every_ten)
    assert p.fires == [T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)]
