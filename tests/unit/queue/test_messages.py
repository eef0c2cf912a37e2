"""Slot and shard messages as a worker reads them: untrusted text, and an optional copy of the claim."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from shared.queue import InvalidSlotMessage, ShardMessage, SlotMessage, decode_message
from shared.store import RunRecord
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


def test_a_schedule_named_shard_is_still_a_slot_message():
    message = decode_message(SlotMessage("shard", SLOT, "schedule").encode())
    assert isinstance(message, SlotMessage) and message.schedule_id == "shard"
    assert decode_message(ShardMessage("shard_03", SLOT).encode()) == ShardMessage("shard_03", SLOT)


@pytest.mark.parametrize("text", ["", "[]", '{"v":1}', '{"v":1,"shard":"shard_99","now":"2026-11-22T02:00:00Z"}',
                                  '{"v":2,"scheduleId":"a","slot":"2026-11-22T02:00:00Z","trigger":"schedule"}',
                                  "x" * 50_000])
def test_text_that_is_not_one_of_our_messages_is_refused(text):
    with pytest.raises(InvalidSlotMessage):
        decode_message(text)
