"""A tiny Functions app that exercises the dev host; used only by tests/devtools."""

import json
import os
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
