"""A small stand-in for the Azure Functions host, for local runs and tests.

Azure Functions Core Tools (``func start``) cannot be installed everywhere, so this
package plays the host's part for a Python v2-model app: it reads the app's settings,
imports ``function_app``, indexes the single ``FunctionApp``, serves its HTTP functions,
fires its timers on their NCRONTAB schedules (in UTC, as the hosted timer does) and
polls the Storage queues of its queue triggers.

    python -m devtools.devhost [--app-dir DIR] [--host 127.0.0.1] [--port 7071]
                               [--no-timers] [--no-queues]

Settings: ``local.settings.json`` in the app dir, else ``local.settings.sample.json``.
Its ``Values`` go into the environment *without* replacing variables that are already
set, so whoever launches the dev host (the local stack, a test) has the last word.
``Host.LocalHttpPort`` is the port when ``--port`` is not given.

Things that behave like the real host:
- route templates (``{name}``, ``{name?}`` last, ``{*name}`` catch-all, ``{name:int}``
  style constraints, ``{name=default}``), literal segments compared case-insensitively,
  more specific templates tried first, ``extensions.http.routePrefix`` from host.json;
- every method token is routed, TRACE, CONNECT, PROPFIND and made-up ones included,
  and methods are compared case-insensitively (as the host's route constraint does):
  a path no route matches is a 404 whatever the method;
- ``%2F`` in a path segment: the path is split on ``/`` first, then each segment is
  percent-decoded *except* ``%2F``, which stays in the value as written. That is what
  Kestrel, the server inside the Functions host, does, so ``func start`` hands the
  function ``a%2Fb`` for ``items/a%2Fb``. Deployed on App Service the front end decodes
  ``%2F`` before the host sees the request, so the same URL is routed as two segments
  (a 404 for ``items/{id}``; azure-functions-host#9290). Do not rely on ``%2F`` in
  route values: validate them and reject ``%``.
- ``%SETTING%`` in a timer schedule is resolved from the environment; an unresolved
  one stops start-up, naming the setting;
- a timer never overlaps itself: if an invocation overruns, the occurrences that
  passed meanwhile collapse into one immediate invocation with ``past_due=True``;
- queue triggers follow the storage extension (QueueListener, QueueProcessor): host.json
  ``extensions.queues`` with its defaults (batchSize 16, newBatchThreshold batchSize/2
  times the CPUs, 1 on Consumption; maxPollingInterval 1 min; visibilityTimeout 0;
  maxDequeueCount 5; messageEncoding base64); ``%SETTING%`` in the queue name, lower-cased;
  the ``connection`` setting looked up as ``AzureWebJobs<name>`` then ``<name>``; one
  poller per function fetching up to batchSize messages with a 10-minute visibility
  timeout, renewed at half-time while the function runs, and the next batch once no more
  than newBatchThreshold are in flight; randomized exponential backoff (100 ms up to
  maxPollingInterval) while the queue is empty or missing; success deletes the message,
  failure makes it visible again after visibilityTimeout, and at maxDequeueCount it moves
  to ``<queue>-poison`` (created then) and the poison queue's poller is woken; a message
  that is not valid base64 goes to the poison queue without an invocation; a ``-poison``
  queue has no poison queue, so its failed messages stay invisible until the lease ends;
  the host does not create a trigger's queue, it waits for it. The function gets an
  ``azure.functions.QueueMessage`` (id, body, dequeue_count, times, pop_receipt); sync
  functions run on one pool sized like the Python worker's (``PYTHON_THREADPOOL_THREAD_COUNT``,
  else ``min(32, CPUs + 4)``), ``async def`` ones on the event loop;
- App Service Authentication (Easy Auth), for an app whose ``API_AUTH_MODE`` is ``entra``:
  client-sent ``X-MS-CLIENT-PRINCIPAL*`` headers are dropped, the principal named by
  ``DEV_PRINCIPAL=name:Role,Role`` (or, per request, an ``X-Dev-Principal`` header, which
  the app never sees) is added, and ``WEBSITE_AUTH_ENABLED=True`` tells the app that
  authentication is on; ``WEBSITE_AUTH_ENABLED=False`` plays it switched off (easy_auth.py);
- an exception in a function is logged with its traceback and answered with a 500
  whose body says nothing about the exception; so is a response with a header HTTP
  cannot carry (a control character, a name that is not a token, a character
  outside ISO-8859-1).

Differences to know about:
- Function keys are NOT enforced: every route answers whatever its auth level, which
  is also what Core Tools does locally. Test key handling against a deployed app.
- A route that matches but does not allow the method answers 405 (with ``Allow``);
  the deployed host treats it as no match at all (404).
- Only HTTP, timer and queue triggers run; other triggers are listed and ignored. Output
  bindings other than the HTTP response receive a sink that discards what is set;
  input bindings are not supplied.
- ``async def`` functions run on one event loop thread shared by all invocations, as
  in the Python worker; sync HTTP and timer functions run on the request or timer
  thread, and only queue functions share the worker-sized pool.
- Queue triggers need a connection string (Azurite's, or ``UseDevelopmentStorage=true``);
  identity-based connections (``<name>__accountName``) stop start-up with a message.
  The trigger argument is always a ``QueueMessage`` (no str/bytes/JSON conversion), and
  host.json ``concurrency`` (dynamic concurrency) is not applied.
- A queue trigger says once that its queue is missing or the service unreachable, and
  once that it is back, and keeps polling with backoff; the host stays silent about a
  missing queue and may restart on transport errors.
- ``stop()`` does not start fetched invocations that are still waiting for a worker
  thread; their messages become visible at once (the host would run them while it
  drains). Invocations still running at the deadline keep their message invisible
  until the 10-minute lease lapses.

Under load the dev host should not be what a local load test measures: it listens with
a backlog of 1024 (not socketserver's 5), keeps HTTP/1.1 connections alive, writes each
answer in one send and serves each connection on its own daemon thread. ``stop()``
closes kept-alive connections once requests in flight have finished.

Modules: ``settings`` (settings file, ``%SETTING%``, route prefix), ``routing`` (route
templates, path decoding), ``functions`` (importing and indexing the app, invoking a
function), ``pipeline`` (request steps, routing a request, the answer), ``server``
(sockets, parsing, writing), ``triggers`` (the interface non-HTTP trigger kinds
implement), ``timers`` (the timer kind), ``queues`` (the queue kind and its pollers),
``queue_delivery`` (one message from dispatch to delete, release or poison),
``queue_options`` (host.json ``extensions.queues``, queue names, connections),
``easy_auth`` (App Service Authentication's principal headers),
``worker_pool`` (the Python worker's thread pool), ``host`` (``DevHost``), ``cli``
(``main``).
``DevHost`` is the programmatic face (tests run it in-process; ``timers=False,
queues=False`` serves HTTP only); ``main`` is the CLI.
"""

from __future__ import annotations

from devtools.devhost.cli import main
from devtools.devhost.errors import DevHostError
from devtools.devhost.host import DevHost
from devtools.devhost.routing import RouteTemplate, decode_segment
from devtools.devhost.settings import (
    Settings,
    apply_settings,
    load_settings,
    read_route_prefix,
    resolve_setting_tokens,
)
from devtools.devhost.queues import QueueTriggers
from devtools.devhost.timers import TimerRunner

__all__ = [
    "DevHost",
    "DevHostError",
    "QueueTriggers",
    "RouteTemplate",
    "Settings",
    "TimerRunner",
    "apply_settings",
    "decode_segment",
    "load_settings",
    "main",
    "read_route_prefix",
    "resolve_setting_tokens",
]
