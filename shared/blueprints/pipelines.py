"""AML v1 published pipeline and pipeline endpoint routes: list, submit now.

Served by `shared.api.pipelines.PipelineHandlers`.
"""

import azure.functions as func

from shared.api.routing import LazyHandlers, respond

bp = func.Blueprint()


def _build():
    from shared.api.pipelines import PipelineHandlers
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return PipelineHandlers(runtime.aml, runtime.aml_runs)


handlers = LazyHandlers(_build)


@bp.route(route="pipelines", methods=["GET"])
def pipelines_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route(route="pipelines/{pipelineId}/submit", methods=["POST"])
def pipelines_submit(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().submit(req))


@bp.route(route="pipeline-endpoints/{id}/submit", methods=["POST"])
def pipeline_endpoints_submit(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().submit_endpoint(req))
