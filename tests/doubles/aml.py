"""A recording stand-in for the AML port, for unit tests of the engine and handlers.

It is not the code under test: the AML client itself is tested against the emulator.
"""

import threading

from shared.aml.client import RunState, SubmittedRun


class RecordingAml:
    """Stands in for AML; records submissions and answers run status from a script."""

    def __init__(self):
        self.lock = threading.Lock()
        self.submissions = []
        self.cancelled = []
        self.status = {}
        self.fail_with = None

    def submit_pipeline(self, pipeline_id, **kwargs):
        with self.lock:
            if self.fail_with:
                raise self.fail_with
            run_id = f"run-{len(self.submissions) + 1}"
            self.submissions.append({"pipeline": pipeline_id, "run_id": run_id, **kwargs})
            self.status[run_id] = "NotStarted"
            return SubmittedRun(run_id, "NotStarted", {})

    def find_runs_by_tags(self, experiment_name, tags, top=10):
        with self.lock:
            return [RunState(s["run_id"], self.status[s["run_id"]], None, None, None, None, s["tags"], {})
                    for s in self.submissions if all(s["tags"].get(k) == v for k, v in tags.items())]

    submit_pipeline_endpoint = submit_pipeline

    def get_run(self, experiment_name, run_id):
        status = self.status[run_id]
        error = ("UserError", "boom") if status == "Failed" else (None, None)
        return RunState(run_id, status, None, "2026-11-22T10:05:00.1234567Z" if status in ("Completed", "Failed") else None,
                        error[0], error[1], {}, {})

    def cancel_run(self, experiment_name, run_id):
        self.cancelled.append(run_id)
        self.status[run_id] = "Canceled"

    def portal_url(self, run_id):
        return f"https://ml.azure.com/runs/{run_id}"
