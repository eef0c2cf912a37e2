"""Queue entry points for dispatch messages the host gave up on: logged with the due rows
they covered, nothing recorded (their cursors did not move, so the next tick plans them)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from shared import workers
from shared.queue import ShardMessage

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)


def test_a_poisoned_dispatch_page_is_logged_with_the_rows_it_covered(caplog):
    page = ShardMessage("shard_03", NOW, "D_20261122T020000000_alpha", "D_20261122T020000000_omega")
    with caplog.at_level(logging.ERROR, logger="shared.workers"):
        workers.run_poison(page.encode().encode(), 5)
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("shard shard_03; the page of due rows after D_20261122T020000000_alpha through "
                           "D_20261122T020000000_omega: its dispatch failed")


def test_a_poisoned_whole_shard_names_only_the_shard(caplog):
    with caplog.at_level(logging.ERROR, logger="shared.workers"):
        workers.run_poison(ShardMessage("shard_03", NOW, None, "D_20261122T020000000_alpha").encode().encode(), 5)
        workers.run_poison(ShardMessage("shard_04", NOW).encode().encode(), 5)
    first, whole = [r.getMessage() for r in caplog.records]
    assert "from the first through D_20261122T020000000_alpha" in first
    assert whole.startswith("shard shard_04: its dispatch failed on every delivery")
