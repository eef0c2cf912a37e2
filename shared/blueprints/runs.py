"""Run routes: the scheduler's own run records across all schedules (`runs`), and AML's
experiments and runs (run history and execution services) proxied with the managed identity.

Served by `shared.api.run_list.RunList` and `shared.api.runs.RunHandlers`. The AML proxy's
routes all start with `experiments/`, so `runs` names the scheduler's records without a clash.
"""

import azure.functions as func

from shared.access.roles import OPERATOR, READER, SUBMITTER
from shared.api.routing import LazyHandlers, respond
from shared.blueprints.routes import ApiBlueprint

bp = ApiBlueprint()


def _build():
    from shared.api.runs import RunHandlers
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return RunHandlers(runtime.aml_runs, runtime.aml, runtime.settings)


def _build_run_list():
    from shared.api.run_list import RunList
    from shared.runtime import get_runtime

    return RunList(get_runtime().runs)


handlers = LazyHandlers(_build)
run_list = LazyHandlers(_build_run_list)


@bp.route("runs", methods=["GET"], role=READER)
def runs_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: run_list().list(req))


@bp.route("experiments/{name}", methods=["GET"], role=READER)
def experiments_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().experiment_get(req))


@bp.route("experiments/{name}", methods=["POST"], role=SUBMITTER)
def experiments_create(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().experiment_create(req))


@bp.route("experiments/{name}/runs", methods=["POST"], role=SUBMITTER)
def experiment_runs_submit(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().submit(req))


@bp.route("experiments/{name}/runs", methods=["GET"], role=READER)
def experiment_runs_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route("experiments/{name}/runs/{runId}", methods=["GET"], role=READER)
def experiment_runs_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().get(req))


@bp.route("experiments/{name}/runs/{runId}/cancel", methods=["POST"], role=OPERATOR)
def experiment_runs_cancel(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().cancel(req))
