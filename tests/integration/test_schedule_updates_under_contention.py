"""Schedule edits without If-Match while another writer moves the record, as the timer does.

PATCH requests from several threads race a writer that advances the schedule's cursor
through the Table store on Azurite, so reads and conditional writes really interleave. A
caller who sent no If-Match asked for no precondition: every edit must land (the app reads
again and reapplies it), and none may undo the writer's cursor.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import azure.functions as func
import pytest

from shared.api.http import handle
from shared.api.schedules import ScheduleHandlers
from shared.schedules import parse_schedule
from shared.store import PreconditionFailed, ScheduleRecord
from shared.store.table import TableRunStore, TableScheduleStore, service_client
from tests.conftest import PIPELINE_ID

pytestmark = pytest.mark.azurite

UTC = timezone.utc
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PATCHERS = 3
PATCHES_EACH = 10
WRITER_PAUSE_SECONDS = 0.02


@pytest.fixture
def stores(azurite, table_names):
    service = service_client(connection_string=azurite, endpoint=None)
    schedules = TableScheduleStore(service, table_names[0])
    definition = parse_schedule({"id": "contended", "trigger": {"cron": "* * * * *"},
                                 "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID,
                                            "experimentName": "contention"}})
    schedules.create(ScheduleRecord(definition, NOW, None, NOW, NOW))
    return schedules, TableRunStore(service, table_names[1])


def patch(handlers: ScheduleHandlers, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    req = func.HttpRequest("PATCH", "http://localhost/api/schedules/contended",
                           headers={"Content-Type": "application/merge-patch+json", **(headers or {})},
                           route_params={"id": "contended"}, body=json.dumps(body).encode())
    response = handle(lambda: handlers.patch(req))
    return response.status_code, json.loads(response.get_body())


def advance_cursor_until(done: threading.Event, schedules: TableScheduleStore, cursors: list) -> None:
    """What the timer does to a schedule: read it, move its cursor, write it back with If-Match.

    Every few tens of milliseconds rather than once a minute, so that edits keep colliding with it.
    """
    while not done.wait(WRITER_PAUSE_SECONDS):
        current = schedules.get("contended")
        try:
            stored = schedules.replace(replace(current, next_fire_time=current.next_fire_time + timedelta(minutes=1)))
        except PreconditionFailed:
            continue
        cursors.append(stored.next_fire_time)


def test_edits_without_if_match_all_land_while_the_cursor_moves(stores):
    schedules, runs = stores
    handlers = ScheduleHandlers(schedules, runs, lambda: NOW)
    done, cursors, answers = threading.Event(), [], []
    writer = threading.Thread(target=advance_cursor_until, args=(done, schedules, cursors))
    writer.start()

    def edit(worker: int) -> None:
        for i in range(PATCHES_EACH):
            answers.append(patch(handlers, {"description": f"worker {worker} edit {i}"}))

    patchers = [threading.Thread(target=edit, args=(n,)) for n in range(PATCHERS)]
    for thread in patchers:
        thread.start()
    for thread in patchers:
        thread.join()
    done.set()
    writer.join()

    refused = [(status, body) for status, body in answers if status != 200]
    assert refused == [] and len(answers) == PATCHERS * PATCHES_EACH
    assert cursors, "the writer never moved the cursor"
    stored = schedules.get("contended")
    assert stored.next_fire_time == max(cursors)  # no edit wrote back a cursor it had read earlier
    assert stored.definition.description in {body["description"] for _, body in answers}


def test_a_stale_if_match_is_still_a_412(stores):
    schedules, runs = stores
    handlers = ScheduleHandlers(schedules, runs, lambda: NOW)
    read = schedules.get("contended")
    schedules.replace(replace(read, next_fire_time=read.next_fire_time + timedelta(minutes=1)))
    status, body = patch(handlers, {"description": "late"}, {"If-Match": read.etag})
    assert status == 412 and body["error"]["code"] == "PreconditionFailed"
    assert schedules.get("contended").definition.description == ""
