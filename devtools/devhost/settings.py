"""What the dev host reads before it imports the app: settings, ``%SETTING%`` tokens, route prefix.

``local.settings.json`` (else ``local.settings.sample.json``) supplies ``Values`` and
``Host.LocalHttpPort``; host.json supplies ``extensions.http.routePrefix``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from devtools.devhost.errors import DevHostError

DEFAULT_ROUTE_PREFIX = "api"
SETTINGS_FILE = "local.settings.json"
SAMPLE_SETTINGS_FILE = "local.settings.sample.json"
_SETTING_TOKEN = re.compile(r"%([^%\s]+)%")


@dataclass(frozen=True)
class Settings:
    """What the dev host took from the app's settings file."""

    path: Path | None
    values: dict[str, str]
    local_http_port: int | None


def load_settings(app_dir: str | os.PathLike[str]) -> Settings:
    """Read ``local.settings.json`` (or the sample when there is none) from ``app_dir``."""
    app_dir = Path(app_dir)
    for name in (SETTINGS_FILE, SAMPLE_SETTINGS_FILE):
        path = app_dir / name
        if path.is_file():
            break
    else:
        return Settings(path=None, values={}, local_http_port=None)
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise DevHostError(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(doc, dict):
        raise DevHostError(f"{path.name} must hold a JSON object")
    if doc.get("IsEncrypted"):
        raise DevHostError(f"{path.name} is encrypted; the dev host reads plain settings only")
    raw_values = doc.get("Values") or {}
    if not isinstance(raw_values, dict):
        raise DevHostError(f"{path.name}: 'Values' must be an object")
    values: dict[str, str] = {}
    for key, value in raw_values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            values[key] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            raise DevHostError(f"{path.name}: setting {key!r} must be a string")
        else:
            values[key] = str(value)
    port = (doc.get("Host") or {}).get("LocalHttpPort")
    try:
        local_http_port = int(port) if port not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise DevHostError(f"{path.name}: Host.LocalHttpPort must be a number") from exc
    return Settings(path=path, values=values, local_http_port=local_http_port)


def apply_settings(
    values: Mapping[str, str], environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """Copy settings into the environment, keeping variables already set.

    Returns the names that were added, so a caller can take them back out.
    """
    environ = os.environ if environ is None else environ
    added = []
    for key, value in values.items():
        if key not in environ:
            environ[key] = value
            added.append(key)
    return added


def read_route_prefix(app_dir: str | os.PathLike[str]) -> str:
    """``extensions.http.routePrefix`` from host.json, without slashes ('' = no prefix)."""
    path = Path(app_dir) / "host.json"
    if not path.is_file():
        return DEFAULT_ROUTE_PREFIX
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise DevHostError(f"cannot read host.json: {exc}") from exc
    prefix = ((doc.get("extensions") or {}).get("http") or {}).get("routePrefix")
    if prefix is None:
        return DEFAULT_ROUTE_PREFIX
    return str(prefix).strip("/")


def resolve_setting_tokens(
    value: str, environ: Mapping[str, str] | None = None, *, function_name: str = "?"
) -> str:
    """Replace ``%NAME%`` tokens with app settings, failing like the host on a missing one."""
    environ = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise DevHostError(
                f"Error indexing method 'Functions.{function_name}': '%{name}%' does not "
                f"resolve to a value (app setting {name} is not set)"
            )
        return environ[name]

    return _SETTING_TOKEN.sub(substitute, value)
