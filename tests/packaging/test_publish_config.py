"""host.json and requirements.txt as the Functions host and the publish step read them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import timedelta
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
HOST = json.loads((ROOT / "host.json").read_text())
# The Consumption plan caps a function at 10 minutes; it is the strictest plan the
# template offers (Flex Consumption and Premium default to 30 and allow more).
CONSUMPTION_MAX_TIMEOUT = timedelta(minutes=10)
# Calendar-versioned time-zone data: every newer release is compatible and wanted.
OPEN_ENDED = {"tzdata"}


def _duration(text: str) -> timedelta:
    hours, minutes, seconds = (int(x) for x in text.split(":"))
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


# The Python versions the template offers (infra/main.bicep, pythonVersion).
SUPPORTED_PYTHONS = ("3.11", "3.12", "3.13")


def requirement_lines() -> list[Requirement]:
    out = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(Requirement(line))
    return out


def requirements(python_version: str | None = None) -> dict[str, str]:
    """Name -> version range of the lines that apply on `python_version` (every line when None)."""
    out = {}
    for req in requirement_lines():
        if python_version and req.marker and not req.marker.evaluate({"python_version": python_version}):
            continue
        out.setdefault(req.name.lower(), str(req.specifier))
    return out


def test_host_json_schema_version_and_extension_bundle():
    assert HOST["version"] == "2.0"
    assert HOST["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    assert HOST["extensions"]["http"]["routePrefix"] == "api"


def test_function_timeout_fits_every_plan_the_template_offers():
    timeout = _duration(HOST["functionTimeout"])
    assert timedelta(minutes=1) < timeout <= CONSUMPTION_MAX_TIMEOUT


def test_sampling_never_drops_requests_or_exceptions():
    sampling = HOST["logging"]["applicationInsights"]["samplingSettings"]
    if sampling.get("isEnabled", True):
        excluded = {t.strip() for t in sampling["excludedTypes"].split(";")}
        assert {"Request", "Exception"} <= excluded


def test_requirements_are_compatible_ranges():
    for req in requirement_lines():
        spec = str(req.specifier)
        assert ">=" in spec, f"{req.name}: give a lower bound"
        if req.name not in OPEN_ENDED:
            assert "<" in spec.replace("<=", ""), f"{req.name}: give an upper bound (the next major version)"
        assert "==" not in spec, f"{req.name}: a range, not an exact pin, so the platform's pip can resolve"


@pytest.mark.parametrize("python_version", SUPPORTED_PYTHONS)
def test_one_line_of_each_requirement_applies_on_every_offered_python(python_version):
    applying = [r.name.lower() for r in requirement_lines()
                if not r.marker or r.marker.evaluate({"python_version": python_version})]
    assert sorted(applying) == sorted(set(applying)), "two lines of one requirement apply at once"
    assert set(applying) == {r.name.lower() for r in requirement_lines()}


def test_azure_functions_line_follows_the_python_version():
    # azure-functions 2.x requires Python >= 3.13; 1.x requires < 3.13.
    assert SpecifierSet(requirements("3.11")["azure-functions"]).contains("1.26.0")
    assert not SpecifierSet(requirements("3.13")["azure-functions"]).contains("1.26.0")
    assert SpecifierSet(requirements("3.13")["azure-functions"]).contains("2.3.0")


@pytest.mark.packaging
def test_requirements_resolve_for_python_3_13(tmp_path):
    """pip finds wheels for Python 3.13 for every 3.13 line. Markers are evaluated here: pip
    evaluates them against the interpreter it runs in, whatever --python-version says."""
    lines = [f"{name}{spec}" for name, spec in requirements("3.13").items()]
    out = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-input",
         "--dest", str(tmp_path), "--python-version", "3.13", "--only-binary=:all:", *lines],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    wheels = [p.name for p in tmp_path.glob("azure_functions-*.whl")]
    assert len(wheels) == 1 and wheels[0].startswith("azure_functions-2."), wheels


def _imported_top_modules() -> set[str]:
    names: set[str] = set()
    for path in [ROOT / "function_app.py", *(ROOT / "shared").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return names


def _modules_of(distribution: str) -> set[str]:
    modules = set()
    for file in metadata.distribution(distribution).files or ():
        parts = file.parts
        if file.suffix == ".py" and not parts[0].endswith((".dist-info", ".data")):
            module = ".".join(parts)[:-3]
            modules.add(module.removesuffix(".__init__"))
    return modules


def test_requirements_hold_runtime_dependencies_only():
    """Each listed distribution provides a module the app imports (tzdata is read by zoneinfo)."""
    imported = _imported_top_modules()
    for name in requirements():
        if name == "tzdata":
            continue
        provided = _modules_of(name)
        assert any(m == i or i.startswith(m + ".") or m.startswith(i + ".") for m in provided for i in imported
                   if not (i == "azure" or m == "azure")), f"{name} is listed but nothing in the app imports it"


def test_every_third_party_import_is_in_requirements():
    import sys

    provided = set().union(*(_modules_of(n) for n in requirements()))
    roots = {m.split(".")[0] for m in provided}
    for module in _imported_top_modules():
        top = module.split(".")[0]
        if top in ("shared", "function_app") or top in sys.stdlib_module_names or top == "__future__":
            continue
        assert top in roots, f"{module} is imported but no requirement provides it"
        if top == "azure":
            assert any(module == m or module.startswith(m + ".") or m.startswith(module + ".") for m in provided), (
                f"{module} is imported but no requirement provides it")
