"""AML compute routes (ARM), proxied with the app's managed identity, and the operations they start.

Served by `shared.api.compute.ComputeHandlers`.
"""

import azure.functions as func

from shared.access.roles import COMPUTE_ADMIN, READER
from shared.api.routing import LazyHandlers, respond
from shared.blueprints.routes import ApiBlueprint

bp = ApiBlueprint()


def _build():
    from shared.api.compute import ComputeHandlers
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return ComputeHandlers(runtime.compute, runtime.settings)


handlers = LazyHandlers(_build)


@bp.route("computes", methods=["GET"], role=READER)
def computes_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route("computes/{name}", methods=["GET"], role=READER)
def computes_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().get(req))


@bp.route("computes/{name}", methods=["PUT"], role=COMPUTE_ADMIN)
def computes_put(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().put(req))


@bp.route("computes/{name}", methods=["PATCH"], role=COMPUTE_ADMIN)
def computes_patch(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().patch(req))


@bp.route("computes/{name}", methods=["DELETE"], role=COMPUTE_ADMIN)
def computes_delete(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().delete(req))


@bp.route("computes/{name}/start", methods=["POST"], role=COMPUTE_ADMIN)
def computes_start(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().start(req))


@bp.route("computes/{name}/stop", methods=["POST"], role=COMPUTE_ADMIN)
def computes_stop(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().stop(req))


@bp.route("computes/{name}/restart", methods=["POST"], role=COMPUTE_ADMIN)
def computes_restart(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().restart(req))


@bp.route("computes/{name}/nodes", methods=["GET"], role=READER)
def computes_nodes(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().nodes(req))


@bp.route("operations/{id}", methods=["GET"], role=READER)
def operations_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().operation(req))
