"""The app's functions, one Blueprint per area; `function_app` registers `BLUEPRINTS` on a `SchedulerApp`.

Each module declares its routes (or timers) and delegates to the code that serves them,
importing that code on first use. Every HTTP route names the app role it needs where it
is declared (`routes.ApiBlueprint`); `SchedulerApp` refuses to index one that does not.
Function names, routes, methods, auth levels and schedules are a published contract: the
packaging test and the OpenAPI drift test guard them.
"""

from shared.blueprints import alerts, batch, compute, console, docs, jobs, pipelines, queues, runs, schedules, timers
from shared.blueprints.routes import DECLARED, RouteAccess, SchedulerApp

BLUEPRINTS = (timers.bp, queues.bp, alerts.bp, docs.bp, schedules.bp, compute.bp, runs.bp, pipelines.bp, jobs.bp,
              batch.bp, console.bp)

__all__ = ["BLUEPRINTS", "DECLARED", "RouteAccess", "SchedulerApp"]
