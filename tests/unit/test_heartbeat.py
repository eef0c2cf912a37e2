"""The dead-man's switch: a timer is stale after three missed fire times, never before the process could have seen them."""

from datetime import datetime, timedelta, timezone

from shared.heartbeat import parse_recorded, timer_state
from shared.scheduling.cron import CronExpression

UTC = timezone.utc
NOW = datetime(2026, 11, 22, 10, 0, 45, tzinfo=UTC)
EVERY_MINUTE = CronExpression("0 * * * * *")
LONG_AGO = NOW - timedelta(days=1)


def state(last, started=LONG_AGO, cron=EVERY_MINUTE, now=NOW):
    return timer_state(cron, last, now, started)


def test_a_recent_completion_is_ok_with_its_age_and_period():
    assert state(NOW - timedelta(seconds=44)) == {"at": "2026-11-22T10:00:01Z", "ageSeconds": 44.0,
                                                    "periodSeconds": 60, "state": "ok"}


def test_three_missed_fire_times_make_it_stale_two_do_not():
    # Fires at 09:58, 09:59, 10:00 were missed (each given its slack to finish by 10:00:30).
    assert state(datetime(2026, 11, 22, 9, 57, 5, tzinfo=UTC))["state"] == "stale"
    assert state(datetime(2026, 11, 22, 9, 58, 5, tzinfo=UTC))["state"] == "ok"
    # The 10:00 tick may still be running at 10:00:20: it is not counted as missed yet.
    assert state(datetime(2026, 11, 22, 9, 57, 5, tzinfo=UTC), now=NOW - timedelta(seconds=25))["state"] == "ok"


def test_a_young_process_is_not_judged():
    young = NOW - timedelta(minutes=2)
    assert state(None, started=young)["state"] == "notYet"
    assert state(LONG_AGO, started=young)["state"] == "starting"
    assert state(None)["state"] == "stale", "three periods up and nothing recorded"
    assert state(None)["at"] is None and state(None)["ageSeconds"] is None


def test_the_period_follows_the_timer_schedule():
    every_five = CronExpression("30 */5 * * * *")
    assert state(NOW - timedelta(minutes=14), cron=every_five) == {
        "at": "2026-11-22T09:46:45Z", "ageSeconds": 840.0, "periodSeconds": 300, "state": "ok"}
    assert state(NOW - timedelta(minutes=16), cron=every_five)["state"] == "stale"


def test_recorded_values_are_read_back_or_ignored():
    assert parse_recorded("2026-11-22T10:00:01Z") == datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC)
    assert parse_recorded(None) is None and parse_recorded("yesterday") is None
