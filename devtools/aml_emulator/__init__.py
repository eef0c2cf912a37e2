"""Loopback emulator of the Azure ML REST surfaces the scheduler uses.

One server stands in for both the ARM host and the workspace data-plane host
(``{region}.api.azureml.ms``), and, for AML v2, the batch endpoints' inference host;
the app is pointed at ``base_url`` for all. Data-plane routes accept the ARM and ML
audiences, ARM routes only the ARM audience, scoring URIs only the ML audience. Paths match
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
    GET  /history/v1.0/W/experiments/{exp}/runs/{runId}/details   (also /W/runs/{runId}/details)
    GET  /pipelines/v1.0/W/pipelines                              (published pipelines; no public spec)

ARM plane (``?api-version=`` required; only the ARM audience):

    /W/computes and their long-running operations under ``/subscriptions/{sub}/providers/
        Microsoft.MachineLearningServices/locations/{loc}/computeOperations{Status,Result}/{id}``
    PUT  /W/jobs/{name}            AML v2 job (Pipeline or Command); 201 + JobBase
    GET  /W/jobs/{name}            properties.status advancing with time
    GET  /W/jobs?jobType=&tag=&listViewType=&$skip=                 paged with nextLink
    POST /W/jobs/{name}/cancel     202 + Location (.../locations/{loc}/mfeOperationResults/{id})
    GET  /W/batchEndpoints[/{ep}[/deployments[/{deployment}]]]
    GET  /W/schedules[?listViewType=]   GET /W/schedules/{name}     AML v2 schedules

Inference plane (batch endpoint scoring URIs; only the ``https://ml.azure.com`` audience):

    POST {inference_base}/batch/{ep}/jobs   headers azureml-model-deployment,
                                            repeatability_request-id; creates a Pipeline job

A v2 job is also a run-history run named by the job: ``GET /history/v1.0/W/runs/{name}``
and ``.../runs/{name}/details`` read it, with a failed job's error. Shapes follow the
2025-12-01 ARM spec and azure-ai-ml 1.35's generated client; each module says which
files, and what is the emulator's own choice where nothing public says.

Admin API (no auth) under ``/_emulator/``: pipelines, faults, request log, runs, reset,
healthz, computes, operations and settings (``admin``); jobs, job outcomes, batch
endpoints and schedules (``admin_v2``).

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
    jobs           AML v2 jobs: create, read, list, cancel; outcomes by experiment
    job_specs      what a job PUT must hold and what a second PUT may change
    batch_endpoints    batch endpoints and deployments (ARM reads, seeds)
    batch_invocations  POST {scoringUri}: deployment choice, repeatability, the job it creates
    schedules      AML v2 schedules (ARM reads, seeds)
    local_seeds    what ``--local-seeds`` puts in the local stack's workspace
    arm            api-version, $skip paging and systemData shared by ARM routes
    admin          the /_emulator/ handlers; admin_v2 those for AML v2
    cli            ``python -m devtools.aml_emulator``

``AmlEmulator``'s methods are the Python equivalents of the admin API
(``register_pipeline``, ``add_fault``, ``seed_compute``, ``seed_batch_endpoint``,
``seed_schedule``, ``set_job_outcome``, ``runs``, ``jobs``, ...).
"""

from devtools.aml_emulator.cli import main  # noqa: F401 - importable here, as before the package split
from devtools.aml_emulator.emulator import AmlEmulator
from devtools.aml_emulator.runs import TERMINAL_STATUSES

__all__ = ["AmlEmulator", "TERMINAL_STATUSES"]
