"""host.json ``extensions.queues``, queue and poison queue names, connection lookup: as the host reads them."""

from __future__ import annotations

import json

import pytest

from devtools.devhost import DevHostError
from devtools.devhost.queue_options import (
    QueueOptions,
    host_processor_count,
    parse_timespan,
    poison_queue_name,
    read_queue_options,
    resolve_connection,
    resolve_queue_name,
)
from devtools.stack import storage_connection_string, tables_connection_string


def write_host_json(folder, queues):
    (folder / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"queues": queues}}))
    return folder


def test_defaults_are_the_hosts():
    options = read_queue_options("/nonexistent", environ={"WEBSITE_SKU": "Dynamic"})
    assert options == QueueOptions(batch_size=16, new_batch_threshold=8, max_polling_interval=60.0,
                                   visibility_timeout=0.0, max_dequeue_count=5, message_encoding="base64")
    assert options.max_in_flight == 24


def test_new_batch_threshold_default_counts_processors_outside_the_consumption_plan(tmp_path):
    write_host_json(tmp_path, {"BatchSize": 6})  # keys are case-insensitive, as in .NET configuration
    processors = host_processor_count({})
    assert processors >= 1
    assert read_queue_options(tmp_path, environ={}).new_batch_threshold == 3 * processors
    assert read_queue_options(tmp_path, environ={"WEBSITE_SKU": "dynamic"}).new_batch_threshold == 3


def test_every_setting_is_read(tmp_path):
    write_host_json(tmp_path, {"batchSize": 32, "newBatchThreshold": 0, "maxPollingInterval": "00:00:02.5",
                               "visibilityTimeout": "00:01:00", "maxDequeueCount": 1, "messageEncoding": "None"})
    assert read_queue_options(tmp_path) == QueueOptions(32, 0, 2.5, 60.0, 1, "none")


@pytest.mark.parametrize(("queues", "message"), [
    ({"batchSize": 33}, "between 1 and 32"),
    ({"batchSize": 0}, "between 1 and 32"),
    ({"newBatchThreshold": -1}, "at least 0"),
    ({"maxDequeueCount": 0}, "at least 1"),
    ({"maxPollingInterval": "00:00:00.05"}, "not be less than"),
    ({"maxPollingInterval": 2000}, "2000 days"),
    ({"visibilityTimeout": "30s"}, "not a TimeSpan"),
    ({"messageEncoding": "utf8"}, "not base64 or none"),
])
def test_settings_the_host_refuses_stop_startup(tmp_path, queues, message):
    with pytest.raises(DevHostError, match=message):
        read_queue_options(write_host_json(tmp_path, queues))


@pytest.mark.parametrize(("text", "seconds"), [
    ("00:01:00", 60.0), ("00:00:00.100", 0.1), ("1.02:03:04", 93784.0), ("01:30", 5400.0), ("-00:00:05", -5.0),
])
def test_timespans(text, seconds):
    assert parse_timespan(text, "x") == pytest.approx(seconds)


def test_queue_names_are_resolved_lowercased_and_checked():
    assert resolve_queue_name("%Q%-Poison", "f", {"Q": "Slots"}) == "slots-poison"
    for bad in ("ab", "a--b", "-ab", "ab-", "a_b", "x" * 64):
        with pytest.raises(DevHostError, match="not a valid queue name"):
            resolve_queue_name(bad, "f", {})
    with pytest.raises(DevHostError, match="%MISSING%"):
        resolve_queue_name("%MISSING%", "f", {})


def test_poison_queue_names():
    assert poison_queue_name("slots") == "slots-poison"
    assert poison_queue_name("slots-poison") is None  # a poison queue has none of its own
    assert poison_queue_name("x" * 56) == "x" * 56 + "-poison"  # 63 characters: the longest name
    assert poison_queue_name("x" * 57) is None  # its poison name would be too long


def test_connection_lookup_prefers_the_azurewebjobs_prefix():
    azurite = storage_connection_string(10002, 10001)
    assert resolve_connection(None, "f", {"AzureWebJobsStorage": azurite}) == ("AzureWebJobsStorage", azurite)
    assert resolve_connection("AzureWebJobsStorage", "f", {"AzureWebJobsStorage": azurite})[0] == "AzureWebJobsStorage"
    env = {"AzureWebJobsSlots": "UseDevelopmentStorage=true", "Slots": azurite}
    assert resolve_connection("Slots", "f", env) == ("AzureWebJobsSlots", "UseDevelopmentStorage=true")
    assert resolve_connection("Slots", "f", {"Slots": azurite}) == ("Slots", azurite)


@pytest.mark.parametrize(("env", "message"), [
    ({}, "'AzureWebJobsStorage' does not exist"),
    ({"AzureWebJobsStorage": "  "}, "'AzureWebJobsStorage' does not exist"),
    ({"AzureWebJobsStorage__accountName": "stslots"}, "identity-based"),
    ({"AzureWebJobsStorage": tables_connection_string(10002)}, "no QueueEndpoint"),
])
def test_connections_the_dev_host_cannot_use_stop_startup_without_echoing_them(env, message):
    with pytest.raises(DevHostError, match=message) as caught:
        resolve_connection("", "f", env)
    assert "AccountKey" not in str(caught.value)


def test_an_app_setting_overrides_host_json_as_on_the_host(tmp_path):
    (tmp_path / "host.json").write_text('{"version": "2.0", "extensions": {"queues": {"batchSize": 16, '
                                        '"maxPollingInterval": "00:00:02"}}}')
    options = read_queue_options(tmp_path, {"AzureFunctionsJobHost__extensions__queues__maxPollingInterval":
                                            "00:00:00.2", "AZUREFUNCTIONSJOBHOST__EXTENSIONS__QUEUES__BATCHSIZE": "4"})
    assert (options.batch_size, options.max_polling_interval) == (4, 0.2)
