"""host.json and requirements.txt as the Functions host and the publish step read them."""

from __future__ import annotations

import ast
import json
import re
from datetime import timedelta
from importlib import metadata
from pathlib import Path

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


def requirements() -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, spec = re.match(r"([A-Za-z0-9._-]+)\s*(.*)", line).groups()
            out[name.lower()] = spec
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
    for name, spec in requirements().items():
        assert ">=" in spec, f"{name}: give a lower bound"
        if name not in OPEN_ENDED:
            assert "<" in spec.replace("<=", ""), f"{name}: give an upper bound (the next major version)"
        assert "==" not in spec, f"{name}: a range, not an exact pin, so the platform's pip can resolve"


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
