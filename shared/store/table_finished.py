"""The finished index of the runs table: every run that ended, by when it ended, across all schedules.

Each shard partition holds the index rows of its schedules' runs (`!<reverse finish
ms>|<record row key>`, written in the transaction that makes the run final, see
table_runs), so within a shard the index is one key range, newest first. A page across
all schedules reads the same key range of every shard and merges: 16 range reads, each
returning at most a page, however long the history.

A page is cut where every shard's answer is known. The Table service may answer a
filtered query (a status) with fewer rows than asked and a token, having scanned only
part of the range (it stops after 1,000 rows or 5 seconds): rows past the last one it
returned may still exist in that shard, so the merged page stops there, and the next
page resumes after the last row it gave. A page can therefore be short; every row is
still seen exactly once. (A shard answering no row but a token is asked again: the
service's tokens are opaque, so only a row tells how far it got.)
"""

from __future__ import annotations

import heapq
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Callable

from shared.store import InvalidContinuationToken, Page, RunRecord, decode_token, encode_token
from shared.store.keys import FINISHED_PREFIX, all_shards, finished_range
from shared.store.table_common import MAX_TRANSACTION, Table, delete_op, mapped_errors

# Shards read at once: the 16 range reads of a page overlap their round trips.
_READERS = 8


class FinishedIndex:
    def __init__(self, table: Table, convert: Callable[[Any], RunRecord]):
        self._table = table
        self._convert = convert

    def page(self, *, status: "frozenset[str] | None", start: datetime | None, end: datetime | None, limit: int,
             continuation: str | None) -> Page:
        low, high = finished_range(start, end)
        resume = _position(continuation)
        after = resume is not None and resume >= low
        query = f"PartitionKey eq @pk and RowKey {'gt' if after else 'ge'} @low and RowKey lt @high"
        low = resume if after else low
        params: dict[str, Any] = {"low": low, "high": high}
        if status:
            names = sorted(status)
            # Spaces around the names: the SDK reads a parameter name up to the next space.
            query += " and ( " + " or ".join(f"Status eq @s{i}" for i in range(len(names))) + " )"
            params.update({f"s{i}": name for i, name in enumerate(names)})
        with ThreadPoolExecutor(_READERS, thread_name_prefix="finished") as pool:
            answers = list(pool.map(lambda shard: self._shard_page(shard, query, params, limit), all_shards()))
        # Rows are certain up to the last row of each shard that has more to give.
        frontier = min((rows[-1][0] for rows, more in answers if more), default=None)
        merged = heapq.merge(*[[row for row in rows if frontier is None or row[0] <= frontier] for rows, _ in answers])
        taken = [row for _, row in zip(range(limit), merged)]
        more = len(taken) == limit or frontier is not None
        token = encode_token({"after": taken[-1][0]}) if taken and more else None
        return Page([self._convert(entity) for _, entity in taken], token)

    def _shard_page(self, shard: str, query: str, params: dict, limit: int) -> tuple[list, bool]:
        """Up to `limit` index rows of a shard, as (key, entity), and whether it may hold more."""
        with mapped_errors(shard):
            pages = self._table.client.query_entities(query, parameters={**params, "pk": shard},
                                                      results_per_page=limit).by_page()
            for page in pages:
                rows = [(entity["RowKey"], entity) for entity in page]
                if rows:
                    return rows, pages.continuation_token is not None
            return [], False

    def prune(self, cutoff: datetime, *, limit: int) -> int:
        """Remove up to `limit` index rows per shard of runs that finished before `cutoff` (keys only,
        one transaction per shard)."""
        first_older, end = finished_range(cutoff, None)[1], finished_range(None, None)[1]
        removed = 0
        for shard in all_shards():
            with mapped_errors(shard):
                pages = self._table.client.query_entities(
                    "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high", select=["RowKey"],
                    parameters={"pk": shard, "low": first_older, "high": end},
                    results_per_page=min(limit, MAX_TRANSACTION)).by_page()
                keys = [entity["RowKey"] for entity in next(pages, [])]
            if keys:
                self._table.transact([delete_op(shard, key) for key in keys], shard)
                removed += len(keys)
        return removed


def _position(continuation: str | None) -> str | None:
    """The key a page resumes after (the last row of the previous page)."""
    if not continuation:
        return None
    token = decode_token(continuation)
    key = token.get("after")
    if set(token) != {"after"} or not isinstance(key, str) or not key.startswith(FINISHED_PREFIX):
        raise InvalidContinuationToken("malformed continuation token")
    return key
