"""A busy shard's dispatch goes out in pages, ranges of its due rows, so that every worker
takes part of a busy minute: each page claims only its own schedules, together they claim
every owed slot once, and repeated, overlapping or unsent pages change nothing of that."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from shared.config import DEFAULT_DISPATCH_PAGE_SIZE as PAGE
from shared.engine import RUN_KEY_TAG
from shared.engine.tick import dispatch_pages
from shared.queue import ShardMessage
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from shared.store.keys import shard_of
from shared.store.memory import MemoryRunStore, MemoryScheduleStore
from tests.doubles.aml import RecordingAml
from tests.unit.engine.support import Driven

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
BUSY_SHARD = "shard_05"
DUE = 2 * PAGE + 9  # three pages: two full, one partly


@pytest.mark.parametrize("count", [1, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE,
                                   5 * PAGE + 3])
def test_pages_cover_every_key_once_a_page_at_a_time(count):
    keys = [f"D_20261122T020000000_s{n:04d}" for n in range(count)]
    pages = dispatch_pages(keys)
    assert pages[0][0] is None and pages[-1][1] is None  # open at both ends
    holders = [[page for page in pages if (page[0] is None or key > page[0]) and (page[1] is None or key <= page[1])]
               for key in keys]
    assert all(len(found) == 1 for found in holders)
    sizes = Counter(found[0] for found in holders)
    assert len(pages) == -(-count // PAGE) and max(sizes.values()) <= PAGE


def test_no_due_keys_no_page():
    assert dispatch_pages([]) == []


def busy_minute(extra_elsewhere: int = 3, **options) -> tuple[Driven, RecordingAml, MemoryScheduleStore, list[str]]:
    """DUE schedules due at T0 in one shard, and a few in others."""
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    busy = [i for i in (f"nightly-{n}" for n in range(2000)) if shard_of(i) == BUSY_SHARD][:DUE]
    others = [i for i in (f"other-{n}" for n in range(200)) if shard_of(i) != BUSY_SHARD][:extra_elsewhere]
    for schedule_id in busy + others:
        definition = parse_schedule({"id": schedule_id, "trigger": {"cron": "0 2 * * *"},
                                     "target": {"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                                                "experimentName": "nightly"}})
        schedules.create(ScheduleRecord(definition, T0, None, T0 - timedelta(days=1), T0 - timedelta(days=1)))
    return Driven(schedules, runs, aml, **options), aml, schedules, busy + others


def submitted_slots(aml: RecordingAml) -> Counter:
    return Counter(s["tags"][RUN_KEY_TAG] for s in aml.submissions)


def test_a_busy_shard_goes_out_in_pages_that_together_fire_each_slot_once():
    driven, aml, _, ids = busy_minute()
    now = T0 + timedelta(seconds=1)
    report = driven.engine.tick(now)
    messages = driven.queue.take()
    busy = [m for m in messages if m.shard == BUSY_SHARD]
    assert report.enqueued == len(messages) == 3 + 3  # three pages, and one message per other shard
    assert [(m.after is None, m.through is None) for m in busy] == [(True, False), (False, False), (False, True)]
    assert all(m.after is None and m.through is None for m in messages if m.shard != BUSY_SHARD)
    dispatched = [driven.engine.work(m, now).schedules for m in busy]
    assert dispatched == [PAGE, PAGE, DUE - 2 * PAGE]  # each page its own rows only
    for message in messages:
        if message.shard != BUSY_SHARD:
            driven.engine.work(message, now)
    driven.deliver(now)
    assert sorted(key.rsplit("_", 1)[0] for key in submitted_slots(aml)) == sorted(ids)
    assert set(submitted_slots(aml).values()) == {1}


def test_pages_delivered_twice_or_beside_a_whole_shard_message_fire_nothing_twice():
    driven, aml, _, ids = busy_minute(extra_elsewhere=0)
    now = T0 + timedelta(seconds=1)
    driven.engine.tick(now)
    pages = driven.queue.take()
    # A page the host delivers again, and an older tick's message for the whole shard.
    for message in [pages[1], *pages, pages[1], ShardMessage(BUSY_SHARD, now), pages[0]]:
        driven.engine.work(message, now)
    driven.deliver(now)
    assert len(aml.submissions) == len(ids) and set(submitted_slots(aml).values()) == {1}


def test_without_the_queue_the_tick_dispatches_every_page_itself():
    driven, aml, _, ids = busy_minute()
    driven.queue.down = True
    report = driven.engine.tick(T0 + timedelta(seconds=1))
    # Six dispatch messages and then every slot message failed to go: the slots are claimed,
    # and wait for the sweep.
    assert report.enqueued == 0 and report.queue_failures == 3 + 3 + len(ids)
    assert len(report.claimed) == len(ids)
    driven.queue.down = False
    driven.poll(T0 + timedelta(minutes=10))  # the sweep, once the claims' leases ran out
    assert len(aml.submissions) == len(ids) and set(submitted_slots(aml).values()) == {1}


def test_a_schedule_due_after_the_tick_read_the_keys_goes_with_the_last_page():
    driven, aml, schedules, ids = busy_minute(extra_elsewhere=0)
    now = T0 + timedelta(seconds=1)
    driven.engine.tick(now)
    pages = driven.queue.take()
    # Due at the same instant, its id sorts after every other: its due row lands past the last key read.
    late = next(i for i in (f"zz-late-{n}" for n in range(2000)) if shard_of(i) == BUSY_SHARD)
    definition = parse_schedule({"id": late, "trigger": {"cron": "0 2 * * *"},
                                 "target": {"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                                            "experimentName": "nightly"}})
    schedules.create(ScheduleRecord(definition, T0, None, T0, T0))
    counts = [driven.engine.work(m, now).schedules for m in pages]
    assert counts[-1] == DUE - 2 * PAGE + 1
    driven.deliver(now)
    assert len(aml.submissions) == len(ids) + 1


def test_the_page_size_is_the_engines_to_choose():
    driven, aml, _, ids = busy_minute(extra_elsewhere=0, dispatch_page_size=10)
    report = driven.tick(T0 + timedelta(seconds=1))
    assert report.enqueued == -(-DUE // 10) + len(ids)  # the pages, then a slot message per slot
    assert len(aml.submissions) == len(ids) and set(submitted_slots(aml).values()) == {1}
