"""The app's functions, one `func.Blueprint` per area; `function_app` registers `BLUEPRINTS`.

Each module declares its routes (or timers) and delegates to the code that serves them,
importing that code on first use. Function names, routes, methods, auth levels and
schedules are a published contract: the packaging test and the OpenAPI drift test
guard them.
"""

from shared.blueprints import alerts, batch, compute, docs, jobs, pipelines, queues, runs, schedules, timers

BLUEPRINTS = (timers.bp, queues.bp, alerts.bp, docs.bp, schedules.bp, compute.bp, runs.bp, pipelines.bp, jobs.bp,
              batch.bp)

__all__ = ["BLUEPRINTS"]
