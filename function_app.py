"""Azure Functions entry point (Python v2 model): one FunctionApp, one blueprint per area.

The routes and timers live in `shared.blueprints`, next to the code that serves them,
each route with the app role it needs. Keep this module free of Azure SDK imports: the
worker imports it on every cold start, and an import error here shows up after publish
only as "0 functions loaded".
"""

from shared.blueprints import BLUEPRINTS, SchedulerApp

app = SchedulerApp()
for blueprint in BLUEPRINTS:
    app.register_blueprint(blueprint)
