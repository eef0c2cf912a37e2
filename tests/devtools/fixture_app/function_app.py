"""A tiny Functions app that exercises the dev host; used only by tests/devtools."""

import base64
import json
import os
import threading
import time
from datetime import datetime, timezone

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


def _json(payload, status=200):
    return func.HttpResponse(json.dumps(payload), status_code=status, mimetype="application/json")


@app.route(route="items/{id}", methods=["GET", "PUT"])
def items(req: func.HttpRequest) -> func.HttpResponse:
    return _json(
        {
            "method": req.method,
            "route_params": dict(req.route_params),
            "params": dict(req.params),
            "body": req.get_body().decode("utf-8"),
            "header": req.headers.get("x-fixture"),
        }
    )


@app.route(route="whoami", methods=["GET"])
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    # What a Functions app sees of App Service Authentication: its headers and its setting.
    principal = req.headers.get("x-ms-client-principal")
    return _json({
        "principal": json.loads(base64.b64decode(principal)) if principal else None,
        "id": req.headers.get("x-ms-client-principal-id"),
        "name": req.headers.get("x-ms-client-principal-name"),
        "devPrincipal": req.headers.get("x-dev-principal"),
        "authEnabled": os.environ.get("WEBSITE_AUTH_ENABLED"),
    })


@app.route(methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"status": "ok"})


@app.route(route="files/{*path}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route_params": dict(req.route_params)})


@app.route(route="greeting/{name?}", methods=["GET"])
def greeting(req: func.HttpRequest) -> str:
    # Plain str return: the worker turns it into a text/plain 200.
    name = req.route_params.get("name", "world")
    return f"{os.environ.get('FIXTURE_GREETING', '?')}, {name}"


@app.route(route="settings", methods=["GET"])
def settings(req: func.HttpRequest) -> func.HttpResponse:
    names = ("FIXTURE_GREETING", "FIXTURE_TIMER", "FIXTURE_ONLY_IN_FILE")
    return _json({name: os.environ.get(name) for name in names})


@app.route(route="boom", methods=["GET", "POST"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("fixture secret detail")


@app.route(route="bad-header", methods=["GET"])
def bad_header(req: func.HttpRequest) -> func.HttpResponse:
    # HTTP/1.1 heads are ISO-8859-1; this value cannot be written into one.
    return func.HttpResponse("unsendable", headers={"X-Mark": "check \u2713"})


@app.timer_trigger(schedule="%FIXTURE_TIMER%", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    path = os.environ.get("FIXTURE_TICK_FILE")
    if not path:
        return
    stamp = datetime.now(timezone.utc).isoformat()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{stamp} past_due={timer.past_due}\n")
    delay = float(os.environ.get("FIXTURE_TICK_SECONDS") or 0)
    if delay:
        time.sleep(delay)


# -- queue triggers ------------------------------------------------------------------------
# The dev host tests run the host in their own process and read these module globals
# (sys.modules["function_app"]); the local stack test reads them over HTTP.


class QueueProbe:
    """What the queue functions saw, and a gate that holds them while a test looks."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = []  # one dict per invocation of record_item
        self.flaky_attempts = []  # (body, dequeue_count) per invocation of flaky_item
        self.poisoned = []  # bodies flaky_poison got
        self.active = 0
        self.max_active = 0
        # Read at import, before any poller runs: record_item then waits for a permit each.
        self.hold = os.environ.get("FIXTURE_QUEUE_HOLD") == "1"
        self.permits = threading.Semaphore(0)


probe = QueueProbe()


def _describe(msg):
    return {
        "id": msg.id,
        "body": msg.get_body().decode("utf-8", errors="replace"),
        "dequeue_count": msg.dequeue_count,
        "insertion_time": msg.insertion_time,
        "expiration_time": msg.expiration_time,
        "time_next_visible": msg.time_next_visible,
        "pop_receipt": msg.pop_receipt,
    }


@app.queue_trigger(arg_name="msg", queue_name="%FIXTURE_QUEUE%", connection="AzureWebJobsStorage")
def record_item(msg: func.QueueMessage) -> None:
    with probe.lock:
        probe.active += 1
        probe.max_active = max(probe.max_active, probe.active)
    try:
        if probe.hold:
            probe.permits.acquire()
        with probe.lock:
            probe.received.append(_describe(msg))
    finally:
        with probe.lock:
            probe.active -= 1


@app.queue_trigger(arg_name="msg", queue_name="%FIXTURE_FLAKY_QUEUE%", connection="AzureWebJobsStorage")
def flaky_item(msg: func.QueueMessage) -> None:
    body = msg.get_body().decode("utf-8")
    with probe.lock:
        probe.flaky_attempts.append((body, msg.dequeue_count))
    if body.startswith("fail"):
        raise RuntimeError(f"fixture failure for {body}")


@app.queue_trigger(arg_name="msg", queue_name="%FIXTURE_FLAKY_QUEUE%-poison", connection="AzureWebJobsStorage")
async def flaky_poison(msg: func.QueueMessage) -> None:
    # async def on purpose: the dev host runs it on its event loop, as the worker would.
    with probe.lock:
        probe.poisoned.append(_describe(msg))


@app.route(route="queue-received", methods=["GET"])
def queue_received(req: func.HttpRequest) -> func.HttpResponse:
    with probe.lock:
        return _json([item["body"] for item in probe.received])
