"""AML compute routes (ARM), proxied with the app's managed identity, and the operations they start.

Served by `shared.api.compute.ComputeHandlers`.
"""

import azure.functions as func

from shared.api.routing import LazyHandlers, respond

bp = func.Blueprint()


def _build():
    from shared.api.compute import ComputeHandlers
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return ComputeHandlers(runtime.compute, runtime.settings)


handlers = LazyHandlers(_build)


@bp.route(route="computes", methods=["GET"])
def computes_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route(route="computes/{name}", methods=["GET"])
def computes_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().get(req))


@bp.route(route="computes/{name}", methods=["PUT"])
def computes_put(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().put(req))


@bp.route(route="computes/{name}", methods=["PATCH"])
def computes_patch(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().patch(req))


@bp.route(route="computes/{name}", methods=["DELETE"])
def computes_delete(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().delete(req))


@bp.route(route="computes/{name}/start", methods=["POST"])
def computes_start(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().start(req))


@bp.route(route="computes/{name}/stop", methods=["POST"])
def computes_stop(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().stop(req))


@bp.route(route="computes/{name}/restart", methods=["POST"])
def computes_restart(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().restart(req))


@bp.route(route="computes/{name}/nodes", methods=["GET"])
def computes_nodes(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().nodes(req))


@bp.route(route="operations/{id}", methods=["GET"])
def operations_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().operation(req))
