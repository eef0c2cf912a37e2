"""A small stand-in for the Azure Functions host, for local runs and tests.

Azure Functions Core Tools (``func start``) cannot be installed everywhere, so this
package plays the host's part for a Python v2-model app: it reads the app's settings,
imports ``function_app``, indexes the single ``FunctionApp``, serves its HTTP functions
and fires its timers on their NCRONTAB schedules (in UTC, as the hosted timer does).

    python -m devtools.devhost [--app-dir DIR] [--host 127.0.0.1] [--port 7071] [--no-timers]

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
- an exception in a function is logged with its traceback and answered with a 500
  whose body says nothing about the exception; so is a response with a header HTTP
  cannot carry (a control character, a name that is not a token, a character
  outside ISO-8859-1).

Differences to know about:
- Function keys are NOT enforced: every route answers whatever its auth level, which
  is also what Core Tools does locally. Test key handling against a deployed app.
- A route that matches but does not allow the method answers 405 (with ``Allow``);
  the deployed host treats it as no match at all (404).
- Only HTTP and timer triggers run; other triggers are listed and ignored. Output
  bindings other than the HTTP response receive a sink that discards what is set;
  input bindings are not supplied.
- ``async def`` functions run on one event loop thread shared by all invocations, as
  in the Python worker; sync functions run on the request or timer thread.

Under load the dev host should not be what a local load test measures: it listens with
a backlog of 1024 (not socketserver's 5), keeps HTTP/1.1 connections alive, writes each
answer in one send and serves each connection on its own daemon thread. ``stop()``
closes kept-alive connections once requests in flight have finished.

Modules: ``settings`` (settings file, ``%SETTING%``, route prefix), ``routing`` (route
templates, path decoding), ``functions`` (importing and indexing the app, invoking a
function), ``pipeline`` (request steps, routing a request, the answer), ``server``
(sockets, parsing, writing), ``triggers`` (the interface non-HTTP trigger kinds
implement), ``timers`` (the timer kind), ``host`` (``DevHost``), ``cli`` (``main``).
``DevHost`` is the programmatic face (tests run it in-process); ``main`` is the CLI.
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
from devtools.devhost.timers import TimerRunner

__all__ = [
    "DevHost",
    "DevHostError",
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
