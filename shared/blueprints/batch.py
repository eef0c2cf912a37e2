"""AML v2 batch endpoint routes: ARM reads, and invocations at the endpoint's scoring URI.

Served by `shared.api.batch.BatchHandlers`.
"""

import azure.functions as func

from shared.api.routing import LazyHandlers, respond

bp = func.Blueprint()


def _build():
    from shared.api.batch import BatchHandlers
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return BatchHandlers(runtime.aml, runtime.settings)


handlers = LazyHandlers(_build)


@bp.route(route="batch-endpoints", methods=["GET"])
def batch_endpoints_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route(route="batch-endpoints/{name}", methods=["GET"])
def batch_endpoints_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().get(req))


@bp.route(route="batch-endpoints/{name}/deployments", methods=["GET"])
def batch_endpoints_deployments(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().deployments(req))


@bp.route(route="batch-endpoints/{name}/invoke", methods=["POST"])
def batch_endpoints_invoke(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().invoke(req))
