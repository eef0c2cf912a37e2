"""Every function lives in the blueprint of its area; function_app.py only assembles them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

# Which area each route prefix belongs to: a new route lands in the blueprint of its area.
AREAS = {
    "schedules": "shared.blueprints.schedules",
    "computes": "shared.blueprints.compute",
    "operations": "shared.blueprints.compute",
    "experiments": "shared.blueprints.runs",
    "runs": "shared.blueprints.runs",
    "pipelines": "shared.blueprints.pipelines",
    "pipeline-endpoints": "shared.blueprints.pipelines",
    "jobs": "shared.blueprints.jobs",
    "batch-endpoints": "shared.blueprints.batch",
    "health": "shared.blueprints.docs",
    "openapi.json": "shared.blueprints.docs",
    "console": "shared.blueprints.console",
    "me": "shared.blueprints.console",
}


def test_function_app_declares_no_function_and_dispatches_nothing():
    tree = ast.parse((REPO_ROOT / "function_app.py").read_text())
    decorated = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.decorator_list]
    strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert decorated == []
    # Only the module docstring: no route, schedule or handler name spelled out here.
    assert len(strings) == 1 and strings[0] == ast.get_docstring(tree, clean=False)


def test_each_function_is_defined_in_its_areas_blueprint():
    probe = (
        "import json, function_app\n"
        "out = []\n"
        "for f in function_app.app.get_functions():\n"
        "    t = f.get_trigger()\n"
        "    out.append([f.get_function_name(), t.type, getattr(t, 'route', None), f.get_user_function().__module__])\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    functions = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(functions) == 53
    for name, trigger, route, module in functions:
        if trigger == "timerTrigger":
            assert module == "shared.blueprints.timers", name
        elif trigger == "queueTrigger":
            area = "alerts" if name.startswith("alerts_") else "queues"
            assert module == f"shared.blueprints.{area}", name
        else:
            assert module == AREAS[route.split("/")[0]], (name, route, module)
