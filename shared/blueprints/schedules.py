"""Schedule routes: collection, item (with ETags), enable/disable, run now, backfill, runs, preview,
the audit history, and the import of AML's own v2 schedules.

Roles: reading is Scheduler.Reader; enable, disable, run now and backfill are
Scheduler.Operator; create, change, delete and import are Scheduler.Editor.

Served by `shared.api.schedules.ScheduleHandlers` and `shared.api.schedule_import.ScheduleImport`.
"""

import azure.functions as func

from shared.access.roles import EDITOR, OPERATOR, READER
from shared.api.routing import LazyHandlers, respond
from shared.blueprints.routes import ApiBlueprint

bp = ApiBlueprint()


def _build():
    from shared.api.schedules import ScheduleHandlers
    from shared.api.target_check import TargetCheck
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return ScheduleHandlers(runtime.schedules, runtime.runs, runtime.clock, runtime.engine,
                            TargetCheck(runtime.aml, runtime.compute), runtime.settings.webhook_policy)


def _build_import():
    from shared.api.schedule_import import ScheduleImport
    from shared.runtime import get_runtime

    runtime = get_runtime()
    return ScheduleImport(runtime.schedules, lambda: runtime.aml.schedules, runtime.clock,
                          runtime.settings.workspace_path)


handlers = LazyHandlers(_build)
importer = LazyHandlers(_build_import)


@bp.route("schedules", methods=["GET"], role=READER)
def schedules_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route("schedules", methods=["POST"], role=EDITOR)
def schedules_create(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().create(req))


@bp.route("schedules/import", methods=["POST"], role=EDITOR)
def schedules_import(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: importer().run(req))


@bp.route("schedules/{id}", methods=["GET"], role=READER)
def schedules_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().get(req))


@bp.route("schedules/{id}", methods=["PUT"], role=EDITOR)
def schedules_put(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().put(req))


@bp.route("schedules/{id}", methods=["PATCH"], role=EDITOR)
def schedules_patch(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().patch(req))


@bp.route("schedules/{id}", methods=["DELETE"], role=EDITOR)
def schedules_delete(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().delete(req))


@bp.route("schedules/{id}/runs", methods=["GET"], role=READER)
def schedules_runs(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().runs(req))


@bp.route("schedules/{id}/history", methods=["GET"], role=READER)
def schedules_history(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().history(req))


@bp.route("schedules/{id}/preview", methods=["GET"], role=READER)
def schedules_preview(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().preview(req))


@bp.route("schedules/{id}/enable", methods=["POST"], role=OPERATOR)
def schedules_enable(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().enable(req))


@bp.route("schedules/{id}/disable", methods=["POST"], role=OPERATOR)
def schedules_disable(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().disable(req))


@bp.route("schedules/{id}/trigger", methods=["POST"], role=OPERATOR)
def schedules_trigger(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().trigger(req))


@bp.route("schedules/{id}/backfill", methods=["POST"], role=OPERATOR)
def schedules_backfill(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().backfill(req))
