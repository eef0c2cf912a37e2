"""The operator console (one static page and its assets) and `me`, what the caller may do.

The page and its assets are public: they hold no data, which the page reads through the
JSON API as the caller (a function key it is given, or the Easy Auth session in entra
mode, where the whole site is behind sign-in anyway). `me` is a Reader route like the
rest of that API. Served by `shared.api.console`.
"""

import azure.functions as func

from shared.access.roles import PUBLIC, READER
from shared.api.routing import respond
from shared.blueprints.routes import ApiBlueprint

bp = ApiBlueprint()


@bp.route("console", methods=["GET"], role=PUBLIC)
def console_page(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api import console

    return respond(lambda: console.page(req))


@bp.route("console/assets/{name}", methods=["GET"], role=PUBLIC)
def console_asset(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api import console

    return respond(lambda: console.asset(req))


@bp.route("me", methods=["GET"], role=READER)
def me(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api import console

    return respond(lambda: console.me(req))
