"""AML v2 job routes (ARM), proxied with the app's managed identity.

Served by `shared.api.jobs.JobHandlers`.
"""

import azure.functions as func

from shared.api.routing import LazyHandlers, respond

bp = func.Blueprint()


def _build():
    from shared.api.jobs import JobHandlers
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return JobHandlers(runtime.aml, runtime.settings)


handlers = LazyHandlers(_build)


@bp.route(route="jobs", methods=["GET"])
def jobs_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route(route="jobs/{name}", methods=["GET"])
def jobs_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().get(req))


@bp.route(route="jobs/{name}", methods=["PUT"])
def jobs_put(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().put(req))


@bp.route(route="jobs/{name}/cancel", methods=["POST"])
def jobs_cancel(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().cancel(req))
