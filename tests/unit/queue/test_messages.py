"""Slot and shard messages as a worker reads them: untrusted text, and optional copies of the claim
and of the schedule."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from shared.queue import InvalidSlotMessage, ShardMessage, SlotMessage, decode_message
from shared.schedules import parse_schedule
from shared.store import RunRecord, ScheduleRecord
from shared.store.memory import MemoryRunStore

UTC = timezone.utc
SLOT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def stored_claim(**changes) -> RunRecord:
    claim = RunRecord("nightly", SLOT, "Claimed", experiment_name="exp", claimed_at=SLOT + timedelta(milliseconds=1234),
                      next_attempt_at=SLOT + timedelta(minutes=8), owner="queue", parameters={"day": "2026-11-22"},
                      retry={"maxAttempts": 3}, run_timeout_minutes=90, target_kind="pipeline", **changes)
    return MemoryRunStore().claim(claim)


def test_a_claim_copy_comes_back_exactly_as_the_store_handed_it_out():
    claim = stored_claim()
    message = decode_message(SlotMessage("nightly", SLOT, "schedule", claim=claim).encode())
    assert message == SlotMessage("nightly", SLOT, "schedule")
    assert message.claim == claim
    assert (message.claim.etag, message.claim.stored_status) == (claim.etag, claim.stored_status)
    assert message.claim.claimed_at == claim.claimed_at and message.claim.claimed_at.tzinfo is not None


@pytest.mark.parametrize("damage", [
    {"attempts": "1"}, {"attempts": True}, {"slot": "2026-11-22T03:00:00+00:00"}, {"slot": "2026-11-22T02:00:00"},
    {"parameters": ["day"]}, {"unknown": 1}, {"schedule_id": "other"}, {"schedule_id": None},
])
def test_a_damaged_copy_is_left_out_and_the_message_still_names_its_slot(damage):
    doc = json.loads(SlotMessage("nightly", SLOT, "schedule", claim=stored_claim()).encode())
    doc["claim"].update(damage)
    message = decode_message(json.dumps(doc))
    assert message == SlotMessage("nightly", SLOT, "schedule") and message.claim is None


def test_a_copy_too_big_for_a_queue_message_is_not_sent():
    claim = stored_claim(reason="x" * 60_000)
    text = SlotMessage("nightly", SLOT, "schedule", claim=claim).encode()
    assert "claim" not in json.loads(text) and len(text) < 200
    assert decode_message(text).claim is None


def stored_schedule(**definition) -> ScheduleRecord:
    doc = {"id": "nightly", "description": "the nightly scoring", "enabled": True,
           "trigger": {"cron": "0 0 2 * * *", "timeZone": "Europe/Berlin", "startTime": "2026-01-01T00:00:00Z"},
           "target": {"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                      "experimentName": "exp", "parameterAssignments": {"day": "{{slot_local:%Y-%m-%d}}"}},
           "policy": {"concurrency": "Forbid", "retry": {"maxAttempts": 4}, "pauseAfterFailures": 3},
           "alerts": {"webhook": "https://hooks.example.com/services/T0/B0/secret-token"}, **definition}
    return ScheduleRecord(parse_schedule(doc), SLOT, None, SLOT - timedelta(days=30), SLOT - timedelta(days=1),
                          etag="W/\"s1\"", failure_streak=2)


def test_a_schedule_copy_carries_what_an_attempt_uses_and_nothing_secret():
    schedule = stored_schedule()
    text = SlotMessage("nightly", SLOT, "schedule", claim=stored_claim(), schedule=schedule).encode()
    assert "secret-token" not in text and "the nightly scoring" not in text
    copy = decode_message(text).schedule
    assert (copy.definition.trigger, copy.definition.target, copy.definition.policy, copy.definition.enabled) == (
        schedule.definition.trigger, schedule.definition.target, schedule.definition.policy, True)
    assert copy.id == "nightly" and copy.failure_streak == 2 and copy.definition.alerts is None
    assert (copy.created_at, copy.updated_at) == (schedule.created_at, schedule.updated_at)


@pytest.mark.parametrize("damage", [
    {"failureStreak": -1}, {"failureStreak": True}, {"updatedAt": "yesterday"}, {"extra": 1},
    {"definition": {"id": "other", "trigger": {"cron": "* * * * *"},
                    "target": {"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                               "experimentName": "exp"}}},
    {"definition": {"id": "nightly", "trigger": {"cron": "99 * * * *"},
                    "target": {"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                               "experimentName": "exp"}}},
    {"definition": {"id": "nightly", "trigger": {"cron": "* * * * *"},
                    "target": {"kind": "pipeline", "pipelineId": "../../subscriptions", "experimentName": "exp"}}},
    {"definition": ["nightly"]},
])
def test_a_damaged_schedule_copy_is_left_out_and_the_claim_copy_kept(damage):
    doc = json.loads(SlotMessage("nightly", SLOT, "schedule", claim=stored_claim(), schedule=stored_schedule()).encode())
    doc["schedule"].update(damage)
    message = decode_message(json.dumps(doc))
    assert message.schedule is None and message.claim is not None


def test_a_schedule_copy_goes_only_beside_a_claim_copy_and_only_while_the_message_fits():
    claim, schedule = stored_claim(), stored_schedule()
    alone = json.loads(SlotMessage("nightly", SLOT, "schedule", claim=claim, schedule=schedule).encode())
    del alone["claim"]
    assert decode_message(json.dumps(alone)).schedule is None  # no lease to vouch for it
    big = stored_schedule(target={"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                                  "experimentName": "exp",
                                  "parameterAssignments": {f"p{n}": "x" * 4000 for n in range(12)}})
    text = SlotMessage("nightly", SLOT, "schedule", claim=claim, schedule=big).encode()
    message = decode_message(text)
    assert "schedule" not in json.loads(text) and message.claim == claim and message.schedule is None


def test_a_schedule_named_shard_is_still_a_slot_message():
    message = decode_message(SlotMessage("shard", SLOT, "schedule").encode())
    assert isinstance(message, SlotMessage) and message.schedule_id == "shard"
    assert decode_message(ShardMessage("shard_03", SLOT).encode()) == ShardMessage("shard_03", SLOT)


def test_a_dispatch_page_keeps_its_bounds():
    page = ShardMessage("shard_03", SLOT, "D_20261122T020000000_alpha", "D_20261122T020000000_omega")
    assert decode_message(page.encode()) == page
    first = ShardMessage("shard_03", SLOT, None, "D_20261122T020000000_alpha")
    assert decode_message(first.encode()) == first and "after" not in json.loads(first.encode())


@pytest.mark.parametrize("bounds", [
    {"after": "D_x"}, {"through": "S_alpha"}, {"after": 7}, {"through": "D_20261122T020000000_Alpha"},
    {"after": "D_20261122T020000000_b", "through": "D_20261122T020000000_a"},
    {"after": "D_20261122T020000000_a", "through": "D_20261122T020000000_a"},
])
def test_a_dispatch_page_with_bounds_that_are_not_due_keys_in_order_is_refused(bounds):
    doc = {"v": 1, "shard": "shard_03", "now": "2026-11-22T02:00:00Z", **bounds}
    with pytest.raises(InvalidSlotMessage):
        decode_message(json.dumps(doc))


@pytest.mark.parametrize("text", ["", "[]", '{"v":1}', '{"v":1,"shard":"shard_99","now":"2026-11-22T02:00:00Z"}',
                                  '{"v":2,"scheduleId":"a","slot":"2026-11-22T02:00:00Z","trigger":"schedule"}',
                                  "x" * 50_000])
def test_text_that_is_not_one_of_our_messages_is_refused(text):
    with pytest.raises(InvalidSlotMessage):
        decode_message(text)
