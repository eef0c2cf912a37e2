"""AML v2 batch endpoint routes: ARM reads, and invocations at the endpoint's scoring URI.

Served by `shared.api.batch.BatchHandlers`.
"""

import azure.functions as func

from shared.access.roles import READER, SUBMITTER
from shared.api.routing import LazyHandlers, respond
from shared.blueprints.routes import ApiBlueprint

bp = ApiBlueprint()


def _build():
    from shared.api.batch import BatchHandlers
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return BatchHandlers(runtime.aml, runtime.settings)


handlers = LazyHandlers(_build)


@bp.route("batch-endpoints", methods=["GET"], role=READER)
def batch_endpoints_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route("batch-endpoints/{name}", methods=["GET"], role=READER)
def batch_endpoints_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().get(req))


@bp.route("batch-endpoints/{name}/deployments", methods=["GET"], role=READER)
def batch_endpoints_deployments(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().deployments(req))


@bp.route("batch-endpoints/{name}/invoke", methods=["POST"], role=SUBMITTER)
def batch_endpoints_invoke(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().invoke(req))
