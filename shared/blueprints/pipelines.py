"""AML v1 published pipeline and pipeline endpoint routes: list, submit now.

Served by `shared.api.pipelines.PipelineHandlers`.
"""

import azure.functions as func

from shared.access.roles import READER, SUBMITTER
from shared.api.routing import LazyHandlers, respond
from shared.blueprints.routes import ApiBlueprint

bp = ApiBlueprint()


def _build():
    from shared.api.pipelines import PipelineHandlers
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return PipelineHandlers(runtime.aml, runtime.aml_runs)


handlers = LazyHandlers(_build)


@bp.route("pipelines", methods=["GET"], role=READER)
def pipelines_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route("pipelines/{pipelineId}/submit", methods=["POST"], role=SUBMITTER)
def pipelines_submit(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().submit(req))


@bp.route("pipeline-endpoints/{id}/submit", methods=["POST"], role=SUBMITTER)
def pipeline_endpoints_submit(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().submit_endpoint(req))
