"""A run record as a JSON document, exactly as the store handed it out (ETag included).

The dispatch puts the claim it just inserted into the claim's slot message, so the worker
that takes the message can write its lease with If-Match on that ETag instead of reading
the claim back first: one table request less per slot. The copy is only ever a guess at
the current state: a write against it fails unless nothing has changed since, and then
the worker reads the record as it would have anyway.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from shared.store import RunRecord

# Each field's JSON type, from its annotation ("datetime | None" -> a datetime as ISO text).
_KINDS = {f.name: str(f.type).split(" ")[0] for f in fields(RunRecord)}
_JSON_TYPES = {"str": str, "int": int, "dict": dict, "list": list}
# A field of another type added to RunRecord must be taught here first, not copied wrongly.
_UNKNOWN = set(_KINDS.values()) - set(_JSON_TYPES) - {"datetime"}
if _UNKNOWN:
    raise TypeError(f"run_copy cannot copy RunRecord fields of type {sorted(_UNKNOWN)}")


def run_document(run: RunRecord) -> dict:
    doc: dict[str, Any] = {}
    for name, kind in _KINDS.items():
        value = getattr(run, name)
        if value is not None:
            doc[name] = value.isoformat() if kind == "datetime" else value
    return doc


def run_from_document(doc: Any) -> RunRecord:
    """The record a document describes; ValueError if it is not one (a copy is never trusted blindly)."""
    if not isinstance(doc, dict) or not set(doc) <= set(_KINDS):
        raise ValueError("not a run record")
    values: dict[str, Any] = {}
    for name, value in doc.items():
        kind = _KINDS[name]
        if kind == "datetime":
            if not isinstance(value, str):
                raise ValueError(f"{name}: not a time")
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError(f"{name}: no offset")
        elif not isinstance(value, _JSON_TYPES[kind]) or (kind == "int" and isinstance(value, bool)):
            raise ValueError(f"{name}: not {kind}")
        values[name] = value
    try:
        return RunRecord(**values)
    except TypeError as exc:  # a required field missing
        raise ValueError(str(exc)) from None
