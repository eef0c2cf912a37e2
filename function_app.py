"""Azure Functions entry point (Python v2 model): triggers only, each delegating to `shared`.

Keep this module free of Azure SDK imports: the worker imports it on every cold start,
and an import error here shows up after publish only as "0 functions loaded".
"""

import azure.functions as func

from shared import api, timers

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def scheduler_tick(timer: func.TimerRequest) -> None:
    timers.run_tick(past_due=timer.past_due)


@app.timer_trigger(schedule="%POLL_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def outcome_poll(timer: func.TimerRequest) -> None:
    timers.run_poll()


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return api.health(req)


@app.route(route="schedules", methods=["GET"])
def schedules_list(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "list", req)


@app.route(route="schedules", methods=["POST"])
def schedules_create(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "create", req)


@app.route(route="schedules/{id}", methods=["GET"])
def schedules_get(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "get", req)


@app.route(route="schedules/{id}", methods=["PUT"])
def schedules_put(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "put", req)


@app.route(route="schedules/{id}", methods=["PATCH"])
def schedules_patch(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "patch", req)


@app.route(route="schedules/{id}", methods=["DELETE"])
def schedules_delete(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "delete", req)


@app.route(route="schedules/{id}/runs", methods=["GET"])
def schedules_runs(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "runs", req)


@app.route(route="schedules/{id}/preview", methods=["GET"])
def schedules_preview(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "preview", req)


@app.route(route="schedules/{id}/enable", methods=["POST"])
def schedules_enable(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "enable", req)


@app.route(route="schedules/{id}/disable", methods=["POST"])
def schedules_disable(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "disable", req)


@app.route(route="schedules/{id}/trigger", methods=["POST"])
def schedules_trigger(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "trigger", req)


@app.route(route="schedules/{id}/backfill", methods=["POST"])
def schedules_backfill(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("schedules", "backfill", req)


# -- AML compute (ARM), proxied with the app's managed identity ---------------------------

@app.route(route="computes", methods=["GET"])
def computes_list(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("compute", "list", req)


@app.route(route="computes/{name}", methods=["GET"])
def computes_get(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("compute", "get", req)


@app.route(route="computes/{name}", methods=["PUT"])
def computes_put(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("compute", "put", req)


@app.route(route="computes/{name}", methods=["PATCH"])
def computes_patch(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("compute", "patch", req)


@app.route(route="computes/{name}", methods=["DELETE"])
def computes_delete(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("compute", "delete", req)


@app.route(route="computes/{name}/start", methods=["POST"])
def computes_start(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("compute", "start", req)


@app.route(route="computes/{name}/stop", methods=["POST"])
def computes_stop(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("compute", "stop", req)


@app.route(route="computes/{name}/restart", methods=["POST"])
def computes_restart(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("compute", "restart", req)


@app.route(route="computes/{name}/nodes", methods=["GET"])
def computes_nodes(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("compute", "nodes", req)


@app.route(route="operations/{id}", methods=["GET"])
def operations_get(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("compute", "operation", req)


# -- AML experiments and runs (run history, execution) ------------------------------------

@app.route(route="experiments/{name}", methods=["GET"])
def experiments_get(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("runs", "experiment_get", req)


@app.route(route="experiments/{name}", methods=["POST"])
def experiments_create(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("runs", "experiment_create", req)


@app.route(route="experiments/{name}/runs", methods=["POST"])
def experiment_runs_submit(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("runs", "submit", req)


@app.route(route="experiments/{name}/runs", methods=["GET"])
def experiment_runs_list(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("runs", "list", req)


@app.route(route="experiments/{name}/runs/{runId}", methods=["GET"])
def experiment_runs_get(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("runs", "get", req)


@app.route(route="experiments/{name}/runs/{runId}/cancel", methods=["POST"])
def experiment_runs_cancel(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("runs", "cancel", req)


# -- AML published pipelines and pipeline endpoints ---------------------------------------

@app.route(route="pipelines", methods=["GET"])
def pipelines_list(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("pipelines", "list", req)


@app.route(route="pipelines/{pipelineId}/submit", methods=["POST"])
def pipelines_submit(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("pipelines", "submit", req)


@app.route(route="pipeline-endpoints/{id}/submit", methods=["POST"])
def pipeline_endpoints_submit(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("pipelines", "submit_endpoint", req)


# -- API description -----------------------------------------------------------------------

@app.route(route="openapi.json", methods=["GET"])
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return api.call("docs", "serve", req)
