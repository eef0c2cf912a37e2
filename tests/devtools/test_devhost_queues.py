"""Queue triggers against real Azurite queues, the fixture app's queue functions in this process.

The fixture's host.json sets batchSize 4, newBatchThreshold 2, maxDequeueCount 3,
visibilityTimeout 0 and a 0.5 s maxPollingInterval. Every test uses queues of its own.
Waits are hang guards, not speed requirements.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import uuid

import pytest
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devtools.devhost import DevHost, DevHostError
from devtools.stack import free_port, start_azurite, stop_process_group, storage_connection_string, wait_for_port
from tests.devtools.devhost_support import app_copy, fixture_host, wait_for

pytestmark = pytest.mark.azurite
HANG_GUARD = 30


@pytest.fixture
def names():
    suffix = uuid.uuid4().hex[:10]
    return {"items": f"items-{suffix}", "flaky": f"flaky-{suffix}"}


def queue_env(connection: str, names: dict[str, str], **extra: str) -> dict[str, str]:
    return {"AzureWebJobsStorage": connection, "FIXTURE_QUEUE": names["items"],
            "FIXTURE_FLAKY_QUEUE": names["flaky"], **extra}


def producer(connection: str, queue_name: str, *, base64: bool = True, create: bool = True) -> QueueClient:
    """A sender as the app's timer tick will be: base64 text, as the host expects by default."""
    policy = TextBase64EncodePolicy() if base64 else None
    client = QueueClient.from_connection_string(connection, queue_name, message_encode_policy=policy)
    if create:
        client.create_queue()
    return client


def probe():
    return sys.modules["function_app"].probe


def message_count(client: QueueClient) -> int:
    """Messages on the queue, visible or not."""
    return client.get_queue_properties().approximate_message_count


def test_base64_message_round_trips_with_its_metadata_and_is_deleted(azurite_storage, names):
    sender = producer(azurite_storage, names["items"])
    bodies = ["héllo ✓", json.dumps({"slot": "2026-01-01T00:00:00Z", "scheduleId": "nightly"})]
    sent = {sender.send_message(body).id: body for body in bodies}
    sent_messages = {m.id: m for m in sender.peek_messages(max_messages=32)}

    with fixture_host(timers=False, queues=True, env=queue_env(azurite_storage, names)):
        assert wait_for(lambda: len(probe().received) == 2, HANG_GUARD)
        received = {item["id"]: item for item in probe().received}
        assert wait_for(lambda: message_count(sender) == 0, HANG_GUARD)

    assert {item_id: item["body"] for item_id, item in received.items()} == sent
    for item_id, item in received.items():
        assert item["dequeue_count"] == 1
        assert item["insertion_time"] == sent_messages[item_id].inserted_on
        assert item["expiration_time"] == sent_messages[item_id].expires_on
        assert item["time_next_visible"] > item["insertion_time"]
        assert item["pop_receipt"]


def test_batch_size_and_new_batch_threshold_bound_the_messages_in_flight(azurite_storage, names):
    sender = producer(azurite_storage, names["items"])
    for number in range(20):
        sender.send_message(f"m{number}")
    # Enough worker threads that only the fetching can hold invocations back.
    env = queue_env(azurite_storage, names, FIXTURE_QUEUE_HOLD="1", PYTHON_THREADPOOL_THREAD_COUNT="16")

    with fixture_host(timers=False, queues=True, env=env):
        seen = probe()
        # First batch: 4. With 4 > 2 in flight, nothing more is fetched while they wait.
        assert wait_for(lambda: seen.active == 4, HANG_GUARD)
        seen.permits.release(2)
        # Down to 2 in flight, the next batch of 4 comes: 6 at once, batchSize + threshold.
        assert wait_for(lambda: seen.active == 6, HANG_GUARD)
        seen.permits.release(100)
        assert wait_for(lambda: len(seen.received) == 20, HANG_GUARD)

    assert seen.max_active == 6
    assert sorted(item["body"] for item in seen.received) == sorted(f"m{n}" for n in range(20))


def test_failures_are_retried_then_poisoned_and_the_poison_function_gets_the_message(azurite_storage, names):
    sender = producer(azurite_storage, names["flaky"])
    sender.send_message("fail-always")
    sender.send_message("ok-once")
    poison = QueueClient.from_connection_string(azurite_storage, f"{names['flaky']}-poison")

    with fixture_host(timers=False, queues=True, env=queue_env(azurite_storage, names)):
        seen = probe()
        assert wait_for(lambda: len(seen.poisoned) == 1, HANG_GUARD)
        assert wait_for(lambda: message_count(sender) == 0 and message_count(poison) == 0, HANG_GUARD)

    attempts = sorted(seen.flaky_attempts)
    assert attempts == [("fail-always", 1), ("fail-always", 2), ("fail-always", 3), ("ok-once", 1)]
    assert seen.poisoned[0]["body"] == "fail-always"
    assert seen.poisoned[0]["dequeue_count"] == 1


def test_a_message_that_is_not_base64_goes_to_the_poison_queue_uninvoked(azurite_storage, names):
    raw_sender = producer(azurite_storage, names["items"], base64=False)
    raw_sender.send_message('{"slot": "not base64"}')
    poison = QueueClient.from_connection_string(azurite_storage, f"{names['items']}-poison")

    def poisoned_texts():
        try:
            return [m.content for m in poison.peek_messages(max_messages=32)]
        except Exception:  # noqa: BLE001 - the poison queue is created with its first message
            return []

    with fixture_host(timers=False, queues=True, env=queue_env(azurite_storage, names)):
        assert wait_for(lambda: poisoned_texts() == ['{"slot": "not base64"}'], HANG_GUARD)
        assert wait_for(lambda: message_count(raw_sender) == 0, HANG_GUARD)
        assert probe().received == []


def test_queue_names_come_from_settings_lowercased(azurite_storage, names):
    env = queue_env(azurite_storage, names, FIXTURE_QUEUE=names["items"].upper())
    sender = producer(azurite_storage, names["items"])
    sender.send_message("by setting")
    with fixture_host(timers=False, queues=True, env=env) as host:
        assert host.queues["record_item"] == names["items"]
        assert host.queues["flaky_poison"] == f"{names['flaky']}-poison"
        assert any(f"record_item: queueTrigger, queue '{names['items']}', connection AzureWebJobsStorage"
                   in line for line in host.listing())
        assert wait_for(lambda: [i["body"] for i in probe().received] == ["by setting"], HANG_GUARD)


@pytest.mark.parametrize(("settings", "message"), [
    ({"FIXTURE_TIMER": "0 0 0 1 1 *", "FIXTURE_FLAKY_QUEUE": "f-x"}, "FIXTURE_QUEUE"),
    ({"FIXTURE_TIMER": "0 0 0 1 1 *", "FIXTURE_QUEUE": "under_score", "FIXTURE_FLAKY_QUEUE": "f-x"},
     "not a valid queue name"),
])
def test_a_queue_name_the_host_would_refuse_stops_startup_even_with_queues_off(
        tmp_path, monkeypatch, settings, message):
    for name in ("FIXTURE_QUEUE", "FIXTURE_FLAKY_QUEUE", "FIXTURE_TIMER"):
        monkeypatch.delenv(name, raising=False)
    app = app_copy(tmp_path, settings=settings)
    with pytest.raises(DevHostError, match=message):
        DevHost(app, port=0, timers=False, queues=False).start()


def test_a_missing_queue_is_waited_for_not_created(azurite_storage, names, caplog):
    caplog.set_level(logging.INFO, logger="devhost")
    with fixture_host(timers=False, queues=True, env=queue_env(azurite_storage, names)):
        assert wait_for(lambda: f"queue '{names['items']}' does not exist" in caplog.text, HANG_GUARD)
        sender = producer(azurite_storage, names["items"])  # created by the producer, as the app must
        sender.send_message("late queue")
        assert wait_for(lambda: [i["body"] for i in probe().received] == ["late queue"], HANG_GUARD)
    assert f"queue '{names['items']}' exists now" in caplog.text


def test_a_queue_service_outage_is_logged_once_and_polling_recovers(azurite_services, names, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="devhost")
    port = free_port()

    def start_queue_service():
        proc = start_azurite(port, tmp_path / "azurite-queue.log", service="queue")
        wait_for_port("127.0.0.1", port, 30, proc=proc)
        return proc

    connection = storage_connection_string(azurite_services.table_port, port)
    service = start_queue_service()
    try:
        producer(connection, names["items"]).send_message("before")
        with fixture_host(timers=False, queues=True, env=queue_env(connection, names)):
            assert wait_for(lambda: [i["body"] for i in probe().received] == ["before"], HANG_GUARD)
            stop_process_group(service)
            assert wait_for(lambda: "Functions.record_item: queue service at" in caplog.text, HANG_GUARD)
            service = start_queue_service()  # in memory: it comes back empty
            producer(connection, names["items"]).send_message("after")
            assert wait_for(lambda: [i["body"] for i in probe().received] == ["before", "after"], HANG_GUARD)
    finally:
        stop_process_group(service)
    lines = [r.getMessage() for r in caplog.records
             if r.getMessage().startswith("Functions.record_item: queue service at")]
    assert len(lines) == 2, lines  # one outage: said once when it began, once when it ended
    assert "unreachable" in lines[0] and lines[1].endswith("reachable again")


def test_stop_hands_back_unstarted_messages_and_lets_the_running_one_finish(azurite_storage, names):
    sender = producer(azurite_storage, names["items"])
    for number in range(10):
        sender.send_message(f"m{number}")
    # One worker thread: of the first batch of 4, one runs and three wait for the thread.
    env = queue_env(azurite_storage, names, FIXTURE_QUEUE_HOLD="1", PYTHON_THREADPOOL_THREAD_COUNT="1")

    with fixture_host(timers=False, queues=True, env=env) as host:
        kind = host.trigger_kinds["queueTrigger"]
        poller = next(p for p in kind.pollers if p.function.name == "record_item")
        seen = probe()
        assert wait_for(lambda: seen.active == 1 and poller.in_flight() == 4, HANG_GUARD)
        stopper = threading.Thread(target=host.stop, kwargs={"timeout": HANG_GUARD})
        stopper.start()
        assert wait_for(lambda: kind.worker_pool.closed, HANG_GUARD)
        seen.permits.release(1)  # the running invocation may finish while the host drains
        stopper.join(HANG_GUARD)
        assert not stopper.is_alive()

    assert len(seen.received) == 1
    visible = sender.peek_messages(max_messages=32)
    assert message_count(sender) == 9
    # The three that never started are back at once; the six never fetched were untouched.
    assert sorted(m.dequeue_count for m in visible) == [0] * 6 + [1] * 3


def test_a_long_invocation_keeps_its_message_by_renewing_the_lease(azurite_storage, names):
    sender = producer(azurite_storage, names["items"])
    sender.send_message("slow")

    def short_lease(host):
        kind = host.trigger_kinds["queueTrigger"]
        kind.lease_seconds, kind.min_renewal_seconds = 2, 1

    env = queue_env(azurite_storage, names, FIXTURE_QUEUE_HOLD="1")
    with fixture_host(timers=False, queues=True, env=env, configure=short_lease):
        seen = probe()
        assert wait_for(lambda: seen.active == 1, HANG_GUARD)
        time.sleep(5)  # past two unrenewed leases: a redelivery would have started by now
        assert seen.max_active == 1 and seen.received == []
        seen.permits.release(1)
        assert wait_for(lambda: len(seen.received) == 1, HANG_GUARD)
        assert wait_for(lambda: message_count(sender) == 0, HANG_GUARD)
    assert seen.received[0]["dequeue_count"] == 1
