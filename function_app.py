"""Azure Functions entry point (Python v2 model): one FunctionApp, one blueprint per area.

The routes and timers live in `shared.blueprints`, next to the code that serves them.
Keep this module free of Azure SDK imports: the worker imports it on every cold start,
and an import error here shows up after publish only as "0 functions loaded".
"""

import azure.functions as func

from shared.blueprints import BLUEPRINTS

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in BLUEPRINTS:
    app.register_blueprint(blueprint)
