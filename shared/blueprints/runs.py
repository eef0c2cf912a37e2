"""Run routes: the scheduler's own run records across all schedules (`runs`), and AML's
experiments and runs (run history and execution services) proxied with the managed identity.

Served by `shared.api.history.RunHistory` and `shared.api.runs.RunHandlers`. The AML proxy's
routes all start with `experiments/`, so `runs` names the scheduler's records without a clash.
"""

import azure.functions as func

from shared.api.routing import LazyHandlers, respond

bp = func.Blueprint()


def _build():
    from shared.api.runs import RunHandlers
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return RunHandlers(runtime.aml_runs, runtime.aml, runtime.settings)


def _build_history():
    from shared.api.history import RunHistory
    from shared.runtime import get_runtime

    return RunHistory(get_runtime().runs)


handlers = LazyHandlers(_build)
history = LazyHandlers(_build_history)


@bp.route(route="runs", methods=["GET"])
def runs_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: history().list(req))


@bp.route(route="experiments/{name}", methods=["GET"])
def experiments_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().experiment_get(req))


@bp.route(route="experiments/{name}", methods=["POST"])
def experiments_create(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().experiment_create(req))


@bp.route(route="experiments/{name}/runs", methods=["POST"])
def experiment_runs_submit(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().submit(req))


@bp.route(route="experiments/{name}/runs", methods=["GET"])
def experiment_runs_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route(route="experiments/{name}/runs/{runId}", methods=["GET"])
def experiment_runs_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().get(req))


@bp.route(route="experiments/{name}/runs/{runId}/cancel", methods=["POST"])
def experiment_runs_cancel(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().cancel(req))
