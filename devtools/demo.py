"""`make run`: the local stack, demo schedules firing every few seconds, and their outcomes.

Brings up Azurite, the identity emulator, the AML emulator and the dev host (serving
this app), creates schedules of every target kind over the app's own HTTP API (a batch
endpoint, a v2 pipeline job, a v2 job that fails, a v1 published pipeline), then prints each run as it
moves from Submitted to Completed or Failed. Stops after DEMO_SECONDS (0 = until
Ctrl-C) and takes every process it started down with it.

The failing schedule alerts a webhook receiver the demo runs on 127.0.0.1 (plain http,
which the app accepts only because the demo sets ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST=true,
a development setting), and the demo prints every message it gets: one when the failures
begin; after a few failed runs AML's jobs are made to succeed again, and one more message
says the schedule recovered; after a few completed runs they fail again, and so on.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.stack import LocalStack, StackError
from devtools.webhook_receiver import Received, WebhookReceiver

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_PIPELINE = "5c0b2a4e-0d1f-4c36-9a53-2f6d8c1e7a01"
# Jobs in this experiment fail (the emulator is told so at start), to show a failure's record
# and its alert; after this many failed runs they succeed again, to show the recovery, and
# after as many completed runs they fail again: the console shows it failing half the time.
FAILING_EXPERIMENT = "demo_failing_jobs"
RUNS_PER_PHASE = 3
FAILED_OUTCOME = {"status": "Failed", "error": {"code": "UserError", "message": "score.py: no orders for this slot"}}
DEMO_SCHEDULES = [
    {
        "id": "demo-batch-scoring",
        "description": "Demo: invoke the batch endpoint score-batch every 10 seconds",
        "trigger": {"cron": "*/10 * * * * *", "timeZone": "Europe/Berlin"},
        "target": {"kind": "batchEndpoint", "endpointName": "score-batch",
                   "inputs": {"orders": {"type": "uri_folder",
                                         "uri": "azureml://datastores/workspaceblobstore/paths/orders/"
                                                "{{slot_local:%Y/%m/%d}}/"},
                              "scoring_date": {"type": "literal", "value": "{{slot_local:%Y-%m-%d}}"}},
                   "outputs": {"scores": {"type": "uri_folder",
                                          "uri": "azureml://datastores/workspaceblobstore/paths/scores/"
                                                 "{{slot:%Y%m%dT%H%M%S}}/"}}},
        "policy": {"concurrency": "Allow", "misfire": "latest"},
    },
    {
        "id": "demo-pipeline-job",
        "description": "Demo: an AML v2 pipeline job on cpu-cluster every 20 seconds",
        "trigger": {"cron": "5/20 * * * * *"},
        "target": {"kind": "job", "job": {
            "jobType": "Pipeline", "experimentName": "demo_pipeline_jobs",
            "displayName": "score {{slot_local:%Y-%m-%d %H:%M:%S}}",
            "settings": {"default_compute": "cpu-cluster"},
            "inputs": {"scoring_date": {"jobInputType": "literal", "value": "{{slot_local:%Y-%m-%d}}"}},
            "jobs": {"score": {"type": "command", "componentId": "azureml:score_orders:1",
                               "inputs": {"day": {"job_input_type": "literal",
                                                  "value": "${{parent.inputs.scoring_date}}"}}}}}},
    },
    {
        "id": "demo-failing-job",
        "description": "Demo: a v2 command job whose runs fail for a while, every 30 seconds; alerts a local webhook",
        "trigger": {"cron": "15,45 * * * * *"},
        "target": {"kind": "job", "job": {
            "jobType": "Command", "experimentName": FAILING_EXPERIMENT, "computeId": "cpu-cluster",
            "command": "python score.py --until {{slot}}", "environmentId": "azureml:AzureML-sklearn-1.5@latest"}},
    },
    {
        "id": "demo-v1-pipeline",
        "description": "Demo: an AML v1 published pipeline every 30 seconds",
        "trigger": {"cron": "0,30 * * * * *"},
        "target": {"kind": "pipeline", "pipelineId": DEMO_PIPELINE, "experimentName": "demo_batch_scoring",
                   "parameterAssignments": {"scoring_date": "{{slot_local:%Y-%m-%d}}", "window_end": "{{slot}}"}},
    },
]


def _not_a_demo_poll(line: str) -> bool:
    """The demo asks for each schedule's runs every second; those request lines would bury
    the run lines on the console (they stay in the dev host's log file)."""
    return not any(f"GET /api/schedules/{s['id']}/runs 200" in line for s in DEMO_SCHEDULES)


def _call(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _print_run(schedule_id: str, run: dict) -> None:
    error = run.get("error") or {}
    what = "AML job" if run.get("amlJobName") else "AML run"
    detail = f"{what} {run['amlRunId']}" if run.get("amlRunId") else (run.get("reason") or "")
    if error:
        detail += f"  error {error.get('code')}: {error.get('message')}"
    print(f"  [{schedule_id}] slot {run['slot']}  {run['status']:<12} {detail}", flush=True)


def _print_alert(received: Received) -> None:
    text = received.body.get("text", "") if isinstance(received.body, dict) else str(received.body)
    lines = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").split("\n")
    print("\n  >>> alert received by the local webhook:", flush=True)
    print("".join(f"      {line}\n" for line in lines), flush=True)


def main() -> int:
    seconds = float(os.environ.get("DEMO_SECONDS") or 0)
    receiver = WebhookReceiver(on_message=_print_alert).start()
    stack = LocalStack(
        REPO_ROOT,
        fixed_ports=True,
        run_seconds=6,
        pipelines=[DEMO_PIPELINE],
        extra_env={"TICK_SCHEDULE": "*/5 * * * * *", "POLL_SCHEDULE": "*/3 * * * * *",
                   # The receiver is plain http on 127.0.0.1: allowed for local development only.
                   "ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST": "true"},
        stream=os.environ.get("DEMO_STREAM", "devhost").split(","),
        console_filter=_not_a_demo_poll,
    )
    # SIGTERM (from a supervisor or `timeout`) ends the demo like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        stack.start()
    except StackError as exc:
        print(f"could not start the local stack: {exc}", file=sys.stderr)
        stack.stop()
        receiver.stop()
        return 1
    try:
        api = stack.dev_host_url
        print(f"\nLocal stack up. App at {api}  (AML emulator {stack.aml_url})", flush=True)
        print(f"Console: {api}/console  (open it in a browser; no key needed locally)", flush=True)
        print(f"Logs of every process: {stack.log_dir}  (data lives in memory and is gone when this stops)",
              flush=True)
        _call("PUT", f"{stack.aml_url}/_emulator/job-outcomes/{FAILING_EXPERIMENT}", FAILED_OUTCOME)
        # The path stands for a real webhook's secret token: the app answers it masked.
        webhook = receiver.url(f"/demo-webhook/{os.urandom(8).hex()}")
        for schedule in DEMO_SCHEDULES:
            if schedule["id"] == "demo-failing-job":
                schedule = {**schedule, "alerts": {"on": ["failed", "late", "paused", "recovered"], "webhook": webhook}}
            status, body = _call("PUT", f"{api}/schedules/{schedule['id']}", schedule)
            if status not in (200, 201):
                print(f"creating {schedule['id']} failed: {status} {body}", file=sys.stderr)
                return 1
            print(f"Schedule {schedule['id']!r} ({schedule['trigger']['cron']}): next fire {body['nextFireTime']}"
                  + (f"; alerts to {body['alerts']['webhook']}" if body.get("alerts") else ""), flush=True)
        print("Watching runs (Ctrl-C to stop)" + (f" for {seconds:g} s" if seconds else "") + " ...\n", flush=True)
        seen: dict[tuple[str, str], str] = {}
        failing, phase_start = True, 0  # the phase, and how many of its runs had ended before it
        deadline = time.monotonic() + seconds if seconds else None
        while deadline is None or time.monotonic() < deadline:
            for schedule in DEMO_SCHEDULES:
                status, body = _call("GET", f"{api}/schedules/{schedule['id']}/runs?limit=20")
                if status != 200:
                    continue
                for run in reversed(body["value"]):
                    key = (schedule["id"], run["slot"])
                    if seen.get(key) != run["status"]:
                        seen[key] = run["status"]
                        _print_run(schedule["id"], run)
            ended = sum(1 for (sid, _), st in seen.items()
                        if sid == "demo-failing-job" and st == ("Failed" if failing else "Completed"))
            if ended - phase_start >= RUNS_PER_PHASE:
                failing = not failing
                phase_start = sum(1 for (sid, _), st in seen.items()
                                  if sid == "demo-failing-job" and st == ("Failed" if failing else "Completed"))
                if failing:
                    _call("PUT", f"{stack.aml_url}/_emulator/job-outcomes/{FAILING_EXPERIMENT}", FAILED_OUTCOME)
                    print("\n  (demo: demo-failing-job's jobs fail again from now on: a new incident, a new alert)\n",
                          flush=True)
                else:
                    _call("DELETE", f"{stack.aml_url}/_emulator/job-outcomes/{FAILING_EXPERIMENT}")
                    print(f"\n  (demo: {RUNS_PER_PHASE} failed runs of demo-failing-job; AML's jobs succeed from now "
                          "on, so its next completed run ends the incident)\n", flush=True)
            time.sleep(1)
        finished = [s for s in seen.values() if s in ("Completed", "Failed")]
        print(f"\nDemo over: {len(seen)} slot(s) recorded, {len(finished)} finished, "
              f"{len(receiver.messages())} alert(s) received.", flush=True)
        return 0
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    finally:
        stack.stop()
        receiver.stop()


if __name__ == "__main__":
    sys.exit(main())
