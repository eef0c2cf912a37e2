"""The operator console (one static page and its assets) and `me`, what the caller may do.

The page and its assets are anonymous: they hold no data, which the page reads through
the JSON API with the caller's key. `me` is keyed like the rest of that API. Served by
`shared.api.console`.
"""

import azure.functions as func

from shared.api.routing import respond

bp = func.Blueprint()


@bp.route(route="console", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console_page(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api import console

    return respond(lambda: console.page(req))


@bp.route(route="console/assets/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console_asset(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api import console

    return respond(lambda: console.asset(req))


@bp.route(route="me", methods=["GET"])
def me(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api import console

    return respond(lambda: console.me(req))
