"""Schedule routes: collection, item (with ETags), enable/disable, run now, backfill, runs, preview,
and the import of AML's own v2 schedules.

Served by `shared.api.schedules.ScheduleHandlers` and `shared.api.schedule_import.ScheduleImport`.
"""

import azure.functions as func

from shared.api.routing import LazyHandlers, respond

bp = func.Blueprint()


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


@bp.route(route="schedules", methods=["GET"])
def schedules_list(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().list(req))


@bp.route(route="schedules", methods=["POST"])
def schedules_create(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().create(req))


@bp.route(route="schedules/import", methods=["POST"])
def schedules_import(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: importer().run(req))


@bp.route(route="schedules/{id}", methods=["GET"])
def schedules_get(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().get(req))


@bp.route(route="schedules/{id}", methods=["PUT"])
def schedules_put(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().put(req))


@bp.route(route="schedules/{id}", methods=["PATCH"])
def schedules_patch(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().patch(req))


@bp.route(route="schedules/{id}", methods=["DELETE"])
def schedules_delete(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().delete(req))


@bp.route(route="schedules/{id}/runs", methods=["GET"])
def schedules_runs(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().runs(req))


@bp.route(route="schedules/{id}/preview", methods=["GET"])
def schedules_preview(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().preview(req))


@bp.route(route="schedules/{id}/enable", methods=["POST"])
def schedules_enable(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().enable(req))


@bp.route(route="schedules/{id}/disable", methods=["POST"])
def schedules_disable(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().disable(req))


@bp.route(route="schedules/{id}/trigger", methods=["POST"])
def schedules_trigger(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().trigger(req))


@bp.route(route="schedules/{id}/backfill", methods=["POST"])
def schedules_backfill(req: func.HttpRequest) -> func.HttpResponse:
    return respond(lambda: handlers().backfill(req))
