"""Importing function_app must not pull in the heavy SDKs (cold start on a consumption plan)."""

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("azure.identity", "azure.data.tables", "requests", "azure.core.pipeline", "msal")


def test_import_function_app_stays_light():
    probe = (
        "import json, sys; import function_app; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_function_is_indexed():
    probe = (
        "import json, function_app; "
        "print(json.dumps(sorted((f.get_function_name(), f.get_trigger().type) for f in function_app.app.get_functions())))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    functions = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    assert functions["scheduler_tick"] == functions["outcome_poll"] == "timerTrigger"
    assert functions["schedules_create"] == "httpTrigger"
    assert functions["alerts_send"] == functions["alerts_poison"] == "queueTrigger"
