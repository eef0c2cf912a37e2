"""The app `make bench-devhost` serves: one cheap anonymous route, so the figures are the dev host's."""

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="ping", methods=["GET"])
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse('{"pong": true}', mimetype="application/json")
