"""Health and the API description: the two routes that work even before the app is configured."""

import azure.functions as func

from shared.access.roles import PUBLIC, READER
from shared.api import health as health_checks
from shared.api.routing import respond
from shared.blueprints.routes import ApiBlueprint

bp = ApiBlueprint()


@bp.route("health", methods=["GET"], role=PUBLIC)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: health_checks.health(req))


@bp.route("openapi.json", methods=["GET"], role=READER)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api import openapi as description

    return respond(lambda: description.serve(req))
