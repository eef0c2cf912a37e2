"""GET runs: run records across all schedules, newest first.

Finished runs (the default, or a final status or group: `failed`, `finished`) come from
the finished index (shared.store.table_finished), ordered by when they finished; `from`
and `to` bound that time, so "what failed last night" is
`GET runs?status=failed&from=...T18:00:00Z&to=...T08:00:00Z`, one call however many
schedules. Runs in flight (`active`, or Claimed, Submitted, Queued, Running) come from the
live rows the poll reads (every run in flight, one range read per shard), newest slot first;
they have not finished, so `from` and `to` do not apply to them.
"""

from __future__ import annotations

from datetime import datetime

import azure.functions as func

from shared.api.http import bad_request, json_response, query_int
from shared.api.schedules import _token, run_status_param
from shared.schedules import parse_instant
from shared.scheduling import ScheduleError
from shared.store import (
    ACTIVE_STATUSES,
    PENDING_STATUS,
    TERMINAL_STATUSES,
    InvalidContinuationToken,
    RunRecord,
    RunStore,
    decode_token,
    encode_token,
    status_set,
)
from shared.store.keys import time_key

IN_FLIGHT = ACTIVE_STATUSES | {PENDING_STATUS}


class RunList:
    def __init__(self, runs: RunStore):
        self._runs = runs

    def list(self, req: func.HttpRequest) -> func.HttpResponse:
        status = run_status_param(req)
        limit = query_int(req, "limit", 50, 1, 500)
        start, end = (_instant(req, name) for name in ("from", "to"))
        if start and end and end < start:
            raise bad_request("to", "must not be before from")
        wanted = status_set(status)
        token = _token(req)
        try:
            if wanted is not None and wanted <= IN_FLIGHT:
                for name, value in (("from", start), ("to", end)):
                    if value is not None:
                        raise bad_request(name, "applies to finished runs (finishedAt); runs in flight have none")
                items, token = self._in_flight(wanted, limit, token)
            else:
                page = self._runs.list_finished(status=wanted if wanted != TERMINAL_STATUSES else None, start=start,
                                                end=end, limit=limit, continuation=token)
                items, token = page.items, page.continuation
        except InvalidContinuationToken:
            raise bad_request("continuationToken", "is not a token from a previous page of this list") from None
        return json_response({"value": [r.to_api() for r in items], "continuationToken": token})

    def _in_flight(self, wanted: frozenset[str], limit: int, token: str | None) -> tuple[list[RunRecord], str | None]:
        """A page of runs in flight, newest slot first. They are few (the poll reads them all every
        cycle), so each page reads them all and resumes after the last one it gave."""
        after = _after(token)
        runs = sorted((r for r in self._runs.all_in_flight() if r.status in wanted),
                      key=_in_flight_order, reverse=True)
        if after is not None:
            runs = [r for r in runs if _in_flight_order(r) < after]
        page = runs[:limit]
        more = len(runs) > limit
        return page, encode_token({"slot": time_key(page[-1].slot), "key": page[-1].run_key}) if more else None


def _in_flight_order(run: RunRecord) -> tuple[str, str]:
    return time_key(run.slot), run.run_key


def _after(token: str | None) -> tuple[str, str] | None:
    if token is None:
        return None
    state = decode_token(token)
    if set(state) != {"slot", "key"} or not all(isinstance(v, str) for v in state.values()):
        raise InvalidContinuationToken("malformed continuation token")
    return state["slot"], state["key"]


def _instant(req: func.HttpRequest, name: str) -> datetime | None:
    if name not in req.params:
        return None
    try:
        return parse_instant(name, req.params[name])
    except ScheduleError as exc:
        raise bad_request(exc.field, exc.message) from None
