"""Counting a process's HTTP requests by destination port, for bench/scale.py.

Every request the app sends (table storage, queues, AML, the identity endpoint) goes
through `requests.Session.send`, whether it comes from the Azure SDKs' transport or the
app's own AML transport; wrapping that one method counts them all, retries and
redirects included, without touching the app. Counting at the client is what tells
whose requests they are: the bench's own reads and seeding run in other windows and
are never mixed in.

Run as a script, it is the dev host with the counter installed (a queue worker of the
benchmark): `python bench/scale_probe.py <dev host arguments>`. SIGUSR1 makes it write
its counts, as JSON, to the file named by BENCH_COUNTS_FILE.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

COUNTS_FILE_VARIABLE = "BENCH_COUNTS_FILE"


class RequestCounter:
    """Requests sent, and those that failed (no answer, 408, 429, 5xx: throttling or an
    unavailable service, not a refused precondition), keyed `sent:<port>` and `failed:<port>`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def install(self) -> "RequestCounter":
        import requests

        original = requests.Session.send
        counter = self

        def counted_send(session, request, **kwargs):
            port = urlsplit(request.url).port or 0
            counter._add(f"sent:{port}")
            try:
                response = original(session, request, **kwargs)
            except Exception:
                counter._add(f"failed:{port}")
                raise
            if response.status_code in (408, 429) or response.status_code >= 500:
                counter._add(f"failed:{port}")
            return response

        requests.Session.send = counted_send
        return self

    def _add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def dump_on_signal(counter: RequestCounter, path: Path) -> None:
    """SIGUSR1 writes the counts (and a sequence number, so the reader knows they are fresh)."""
    written = [0]

    def on_signal(signum, frame) -> None:
        written[0] += 1
        doc = {"seq": written[0], "counts": counter.snapshot()}
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(partial, path)  # the reader never sees half a file

    signal.signal(signal.SIGUSR1, on_signal)


def main() -> int:
    repo_root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo_root))
    counter = RequestCounter().install()
    dump_on_signal(counter, Path(os.environ[COUNTS_FILE_VARIABLE]))
    from devtools.devhost.cli import main as devhost_main

    return devhost_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
