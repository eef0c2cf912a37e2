"""AML v2 job routes (ARM), proxied with the app's managed identity.

Served by `shared.api.jobs.JobHandlers`.
"""

import azure.functions as func

from shared.access.roles import OPERATOR, READER, SUBMITTER
from shared.api.routing import LazyHandlers, respond
from shared.blueprints.routes import ApiBlueprint

bp = ApiBlueprint()


def _build():
    from shared.api.jobs import JobHandlers
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return JobHandlers(runtime.aml, runtime.settings)


handlers = LazyHandlers(_build)


@bp.route("jobs", methods=["GET"], role=READER)
def jobs_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route("jobs/{name}", methods=["GET"], role=READER)
def jobs_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().get(req))


@bp.route("jobs/{name}", methods=["PUT"], role=SUBMITTER)
def jobs_put(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().put(req))


@bp.route("jobs/{name}/cancel", methods=["POST"], role=OPERATOR)
def jobs_cancel(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().cancel(req))
