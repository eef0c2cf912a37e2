"""Health and the API description: the two routes that work even before the app is configured."""

import azure.functions as func

from shared.api import health as health_checks
from shared.api.routing import respond

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: health_checks.health(req))


@bp.route(route="openapi.json", methods=["GET"])
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api import openapi as description

    return respond(lambda: description.serve(req))
