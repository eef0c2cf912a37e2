"""Loopback emulator of the Azure ML REST surfaces the scheduler uses.

One server stands in for both the ARM host and the workspace data-plane host
(``{region}.api.azureml.ms``); the app is pointed at ``base_url`` for both. Data-plane
routes accept the ARM and ML audiences, ARM routes only the ARM audience. Paths match
case-insensitively, as the real services do; ``Retry-After`` is always whole seconds.

Data plane (``W`` = ``subscriptions/{sub}/resourceGroups/{rg}/providers/
Microsoft.MachineLearningServices/workspaces/{ws}``):

    POST /pipelines/v1.0/W/PipelineRuns/PipelineSubmit/{pipelineId}
    POST /pipelines/v1.0/W/PipelineRuns/PipelineEndpointSubmit/Id/{endpointId}[/{version}][?pipelineVersion=V]
    GET  /history/v1.0/W/experiments/{exp}                      (POST creates, idempotently)
    GET  /history/v1.0/W/experiments/{exp}/runs/{runId}
    GET  /history/v1.0/W/runs/{runId}
    POST /history/v1.0/W/experiments/{exp}/runs:query            body QueryParams
    GET  /history/v1.0/W/experiments/{exp}/runs?$filter=...
    POST /history/v1.0/W/experiments/{exp}/runs/{runId}/cancel
    POST /execution/v1.0/W/experiments/{exp}/runId/{runId}/cancel
    POST /execution/v1.0/W/experiments/{exp}/startrun[?runId=]   multipart runDefinitionFile + projectZipFile
    GET  /history/v1.0/W/experiments/{exp}/runs/{runId}/details
    GET  /pipelines/v1.0/W/pipelines                              (published pipelines; no public spec)

ARM plane (``?api-version=`` required): ``/W/computes`` and its long-running
operations under ``/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/
locations/{loc}/computeOperations{Status,Result}/{id}``.

Admin API (no auth) under ``/_emulator/``: pipelines, faults, request log, runs, reset,
healthz, computes, operations and settings.

Where each part lives, with its routes and the shapes it follows:

    emulator       AmlEmulator: constructor, reset, the route table joined from the areas
    server         HTTP server, request pipeline, authentication, workspace check, request log
    routing        Request, Reply, Route, route matching
    faults         injected answers, delays, hangs and dropped connections
    runs           run lifecycle, experiments, run history reads, cancel, runs:query
    run_queries    the OData $filter subset, orderBy, continuation tokens
    script_runs    startrun and run details
    pipelines      published pipelines and endpoints, submits, the PipelineRun entity
    computes       ARM computes
    operations     ARM long-running operations
    arm            api-version and $skip paging shared by ARM routes
    admin          the /_emulator/ handlers
    cli            ``python -m devtools.aml_emulator``

``AmlEmulator``'s methods are the Python equivalents of the admin API
(``register_pipeline``, ``add_fault``, ``seed_compute``, ``runs``, ...).
"""

from devtools.aml_emulator.cli import main  # noqa: F401 - importable here, as before the package split
from devtools.aml_emulator.emulator import AmlEmulator
from devtools.aml_emulator.runs import TERMINAL_STATUSES

__all__ = ["AmlEmulator", "TERMINAL_STATUSES"]
