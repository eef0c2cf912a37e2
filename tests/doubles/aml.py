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
        # What AML reports as a finished run's end (None: the poll records its own time).
        self.end_time = "2026-11-22T10:05:00.1234567Z"

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
        return RunState(run_id, status, None, self.end_time if status in ("Completed", "Failed") else None,
                        error[0], error[1], {}, {})

    def cancel_run(self, experiment_name, run_id):
        self.cancelled.append(run_id)
        self.status[run_id] = "Canceled"

    def compute_id(self, name):
        return f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/computes/{name}"

    def portal_url(self, run_id):
        return f"https://ml.azure.com/runs/{run_id}"

    # -- AML v2 ------------------------------------------------------------------------
    # Jobs are kept by name, as AML does: a second PUT of a name answers with the job
    # (duplicate="return") or refuses it (duplicate="refuse", a 409), both as AML may.
    duplicate = "return"

    def submit_job(self, name, properties, *, tag, value):
        from shared.aml.errors import AmlConflictError
        with self.lock:
            if self.fail_with:
                raise self.fail_with
            job = self.jobs_by_name().get(name)
            if job is None:
                self.submissions.append({"job": name, "run_id": name, "properties": properties,
                                         "tags": dict(properties.get("tags") or {})})
                self.status[name] = "NotStarted"
                job = self.submissions[-1]
            elif self.duplicate == "refuse":
                # What the real client does next: read the name and adopt a job with our tag.
                if job["tags"].get(tag) != value:
                    raise AmlConflictError("taken", status=409)
            return RunState(name, self.status[name], None, None, None, None, job["tags"], {})

    def jobs_by_name(self):
        return {s["job"]: s for s in self.submissions if "job" in s}

    def find_job(self, name):
        job = self.jobs_by_name().get(name)
        return None if job is None else RunState(name, self.status[name], None, None, None, None, job["tags"], {})

    def get_job(self, name):
        return self.get_run(None, name)

    def cancel_job(self, name):
        self.cancel_run(None, name)

    def invoke_batch(self, endpoint, inputs, outputs, *, deployment, experiment_name, tags, repeatability_id):
        with self.lock:
            if self.fail_with:
                raise self.fail_with
            for s in self.submissions:
                if s.get("repeatability_id") == repeatability_id:
                    return RunState(s["run_id"], self.status[s["run_id"]], None, None, None, None, {}, {})
            run_id = f"batchjob-{len(self.submissions) + 1}"
            self.submissions.append({"endpoint": endpoint, "run_id": run_id, "inputs": inputs, "outputs": outputs,
                                     "deployment": deployment, "experiment_name": experiment_name, "tags": tags,
                                     "repeatability_id": repeatability_id})
            self.status[run_id] = "NotStarted"
            return RunState(run_id, "NotStarted", None, None, None, None, {}, {})
