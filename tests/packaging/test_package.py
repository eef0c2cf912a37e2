"""The deployment package, built the way `func azure functionapp publish` builds it.

The files Core Tools would zip (funcignore.py) are copied to a scratch directory,
requirements.txt is installed into a fresh virtual environment with nothing else, and
that interpreter imports function_app from the copy: every function the dev environment
indexes must be indexed there too, with the same triggers, routes and schedules. This is
the test for "0 functions loaded" after a publish, whose usual causes are a module left
out of the package or a dependency missing from requirements.txt.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.packaging.funcignore import package_files

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.packaging

# Never part of what runs in Azure.
DEV_ONLY_TOP_LEVEL = {"tests", "devtools", "node_modules", ".venv", "bench", "infra", "docs", ".ci", ".devstack"}
DEV_ONLY_FILES = {"local.settings.json", "local.settings.sample.json", "requirements-dev.txt", "Makefile",
                  "package.json", "package-lock.json", "pytest.ini"}

# Runs inside the interpreter under test, with the app directory as its only addition to
# sys.path (like the Python worker). Prints one JSON document.
PROBE = r"""
import importlib, json, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import function_app

def describe(f):
    t = f.get_trigger()
    methods = getattr(t, "methods", None)
    level = getattr(t, "auth_level", None)
    return {
        "name": f.get_function_name(),
        "trigger": t.type,
        "route": getattr(t, "route", None),
        "methods": sorted(str(getattr(m, "value", m)) for m in methods) if methods else None,
        "authLevel": str(getattr(level, "name", level)) if level is not None else None,
        "schedule": getattr(t, "schedule", None),
        "runOnStartup": getattr(t, "run_on_startup", None),
        "queueName": getattr(t, "queue_name", None),
    }

functions = sorted((describe(f) for f in function_app.app.get_functions()), key=lambda d: d["name"])
import shared
broken = {}
for module in pkgutil.walk_packages(shared.__path__, "shared."):
    try:
        importlib.import_module(module.name)
    except Exception as exc:
        broken[module.name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"functions": functions, "broken": broken, "prefix": sys.prefix}))
"""


def probe(python: str, app_dir: Path, env: dict | None = None) -> dict:
    out = subprocess.run([python, "-I", "-c", PROBE, str(app_dir)], cwd=app_dir, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"importing function_app failed:\n{out.stderr[-4000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("package") / "app"
    for relative in package_files(ROOT):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, destination)
    return target


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory) -> str:
    """A new virtual env holding requirements.txt and nothing else (pip's cache keeps it quick)."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q",
         "-r", str(ROOT / "requirements.txt")],
        env=_clean_env(), capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, f"pip install -r requirements.txt failed:\n{install.stderr[-4000:]}"
    return python


def _clean_env() -> dict:
    """The caller's environment without anything that would leak the dev venv into the clean one."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA", "PIP_REQUIRE_VIRTUALENV"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    return env


def test_package_leaves_out_tests_devtools_and_environments(package):
    files = [p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()]
    assert files, "the package is empty"
    leaked = sorted(f for f in files if f.split("/")[0] in DEV_ONLY_TOP_LEVEL or f in DEV_ONLY_FILES)
    assert not leaked, f"these would be published: {leaked[:20]}"
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]


def test_package_holds_everything_the_app_needs(package):
    for required in ("function_app.py", "host.json", "requirements.txt"):
        assert (package / required).is_file(), f"{required} is missing from the package"
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "shared").rglob("*.py")
                if "__pycache__" not in p.parts}
    shipped = {p.relative_to(package).as_posix() for p in (package / "shared").rglob("*.py")}
    assert expected == shipped, f"missing from the package: {sorted(expected - shipped)}"


def test_package_holds_the_console_page_and_every_asset(package):
    """The console is data files beside the code; .funcignore must not drop them (*.md, say)."""
    from shared.api.console import ASSET_DIR, ASSETS, PAGE

    for name in (PAGE, *ASSETS):
        shipped = package / ASSET_DIR.relative_to(ROOT) / name
        assert shipped.is_file(), f"{name} is missing from the package"
        assert shipped.read_bytes() == (ASSET_DIR / name).read_bytes()


def test_clean_install_indexes_every_function_the_dev_environment_does(package, clean_python):
    dev = probe(sys.executable, ROOT)
    clean = probe(clean_python, package, env=_clean_env())
    assert Path(clean["prefix"]) != Path(sys.prefix), "the probe ran in the dev environment"
    assert clean["broken"] == {}, f"modules that fail to import from a clean install: {clean['broken']}"
    assert dev["functions"], "the dev environment indexes no functions"
    assert clean["functions"] == dev["functions"]
    queue_functions = {f["name"]: f["queueName"] for f in clean["functions"] if f["trigger"] == "queueTrigger"}
    # Queue names are app settings the host resolves; a poison queue's trigger names <queue>-poison.
    assert queue_functions == {"slot_worker": "%SLOT_QUEUE%", "slot_poison": "%SLOT_QUEUE%-poison",
                               "alerts_send": "%ALERT_QUEUE%", "alerts_poison": "%ALERT_QUEUE%-poison"}
    for function in clean["functions"]:
        if function["trigger"] == "timerTrigger":
            # Resolved by the host from app settings; run_on_startup would fire on every scale-out.
            assert re.fullmatch(r"%[A-Z_]+%", function["schedule"]), function
            assert function["runOnStartup"] is False, function


def test_clean_install_is_runtime_dependencies_only(clean_python):
    """requirements.txt brings no test or dev tooling into the app."""
    listed = subprocess.run([clean_python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
                            env=_clean_env(), capture_output=True, text=True, check=True, timeout=120)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    dev_tools = {"pytest", "hypothesis", "pycep-parser", "lark", "coverage", "mypy", "ruff"}
    assert not names & dev_tools, names & dev_tools
