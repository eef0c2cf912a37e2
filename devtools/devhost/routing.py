"""HTTP route templates as the Functions host reads them, matched against raw request paths.

Paths are split on ``/`` before percent-decoding, and ``%2F`` stays in a value as written
(Kestrel's rule; see the package docstring for how the deployed front end differs).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from devtools.devhost.errors import DevHostError


def decode_segment(raw: str) -> str:
    """Percent-decode one path segment, keeping ``%2F`` as written (Kestrel's rule)."""
    pieces = re.split(r"(%2[fF])", raw)
    return "".join(p if i % 2 else unquote(p, errors="replace") for i, p in enumerate(pieces))


def split_path(raw_path: str) -> list[str]:
    """Raw request path to raw segments; one trailing slash is tolerated like the host."""
    path = raw_path.lstrip("/")
    if path.endswith("/"):
        path = path[:-1]
    return path.split("/") if path else []


def _int_between(low: int, high: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return low <= int(value) <= high
        except ValueError:
            return False

    return check


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity")


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _constraint(spec: str) -> Callable[[str], bool]:
    name, _, arg = spec.partition("(")
    name = name.strip().lower()
    args = [a.strip() for a in arg[:-1].split(",")] if arg.endswith(")") else []
    simple: dict[str, Callable[[str], bool]] = {
        "int": _int_between(-(2**31), 2**31 - 1),
        "long": _int_between(-(2**63), 2**63 - 1),
        "bool": lambda v: v.lower() in ("true", "false"),
        "guid": _is_guid,
        "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
        "double": _is_float,
        "float": _is_float,
        "decimal": _is_float,
    }
    try:
        if name in simple and not args:
            return simple[name]
        if name == "regex" and arg.endswith(")"):
            pattern = re.compile(arg[:-1], re.IGNORECASE)
            return lambda v: pattern.search(v) is not None
        if name == "minlength" and len(args) == 1:
            n = int(args[0])
            return lambda v: len(v) >= n
        if name == "maxlength" and len(args) == 1:
            n = int(args[0])
            return lambda v: len(v) <= n
        if name == "length" and len(args) in (1, 2):
            lo, hi = int(args[0]), int(args[-1])
            return lambda v: lo <= len(v) <= hi
        if name == "min" and len(args) == 1:
            return _int_between(int(args[0]), 2**63 - 1)
        if name == "max" and len(args) == 1:
            return _int_between(-(2**63), int(args[0]))
        if name == "range" and len(args) == 2:
            return _int_between(int(args[0]), int(args[1]))
    except (ValueError, re.error) as exc:
        raise DevHostError(f"bad route constraint {spec!r}: {exc}") from exc
    raise DevHostError(f"unsupported route constraint {spec!r}")


def _split_outside_parens(text: str, sep: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class _Param:
    name: str
    optional: bool = False
    catch_all: bool = False
    default: str | None = None
    checks: tuple[Callable[[str], bool], ...] = ()

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


def _parse_param(body: str, template: str) -> _Param:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    optional = body.endswith("?")
    body = body.rstrip("?")
    default = None
    head, *rest = _split_outside_parens(body, "=")
    if rest:
        default = "=".join(rest)
    name, *constraints = _split_outside_parens(head, ":")
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise DevHostError(f"route {template!r}: bad parameter name {name!r}")
    return _Param(
        name=name,
        optional=optional or default is not None,
        catch_all=catch_all,
        default=default,
        checks=tuple(_constraint(c) for c in constraints if c.strip()),
    )


def _parse_segment(text: str, template: str) -> list[str | _Param]:
    parts: list[str | _Param] = []
    i, literal = 0, []
    while i < len(text):
        ch = text[i]
        if ch == "{" and text.startswith("{{", i):
            literal.append("{")
            i += 2
        elif ch == "}" and text.startswith("}}", i):
            literal.append("}")
            i += 2
        elif ch == "{":
            depth, j = 1, i + 1
            while j < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise DevHostError(f"route {template!r}: unbalanced '{{'")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_parse_param(text[i + 1 : j - 1], template))
            i = j
        elif ch == "}":
            raise DevHostError(f"route {template!r}: unbalanced '}}'")
        else:
            literal.append(ch)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


class RouteTemplate:
    """One HTTP function's route, matched against raw (still percent-encoded) paths."""

    def __init__(self, template: str) -> None:
        self.template = template
        text = template.strip()
        if text.startswith("~/"):
            text = text[2:]
        text = text.strip("/")
        raw_segments = text.split("/") if text else []
        self._segments: list[list[str | _Param]] = []
        self._complex: dict[int, re.Pattern[str]] = {}
        ranks = []
        for index, raw in enumerate(raw_segments):
            parts = _parse_segment(raw, template)
            if not parts:
                raise DevHostError(f"route {template!r}: empty segment")
            last = index == len(raw_segments) - 1
            params = [p for p in parts if isinstance(p, _Param)]
            if len(parts) > 1:
                if any(p.catch_all or p.optional for p in params):
                    raise DevHostError(
                        f"route {template!r}: optional and catch-all parameters must fill a segment"
                    )
                regex = "".join(
                    f"(?P<{p.name}>.+?)" if isinstance(p, _Param) else re.escape(p) for p in parts
                )
                self._complex[index] = re.compile(regex + r"\Z", re.IGNORECASE | re.DOTALL)
                ranks.append(2)
            elif params:
                param = params[0]
                if (param.catch_all or param.optional) and not last:
                    raise DevHostError(
                        f"route {template!r}: {{{param.name}}} may only be the last segment"
                    )
                ranks.append(5 if param.catch_all else 3 if param.checks else 4)
            else:
                ranks.append(1)
            self._segments.append(parts)
        self.precedence = tuple(ranks)
        self.parameters = [
            p.name for parts in self._segments for p in parts if isinstance(p, _Param)
        ]

    def __repr__(self) -> str:
        return f"RouteTemplate({self.template!r})"

    def match_path(self, raw_path: str) -> dict[str, str] | None:
        """Route values for a raw path relative to the prefix, or None."""
        return self.match(split_path(raw_path))

    def match(self, raw_segments: list[str]) -> dict[str, str] | None:
        values: dict[str, str] = {}
        n = len(self._segments)
        for index, parts in enumerate(self._segments):
            param = parts[0] if len(parts) == 1 and isinstance(parts[0], _Param) else None
            if param is not None and param.catch_all:
                rest = raw_segments[index:]
                if rest:
                    value = "/".join(decode_segment(s) for s in rest)
                    if not param.accepts(value):
                        return None
                    values[param.name] = value
                elif param.default is not None:
                    values[param.name] = param.default
                return values
            if index >= len(raw_segments):
                if param is not None and param.optional and index == n - 1:
                    if param.default is not None:
                        values[param.name] = param.default
                    return values
                return None
            segment = decode_segment(raw_segments[index])
            if index in self._complex:
                found = self._complex[index].match(segment)
                if found is None:
                    return None
                for part in parts:
                    if isinstance(part, _Param):
                        if not part.accepts(found.group(part.name)):
                            return None
                        values[part.name] = found.group(part.name)
            elif param is not None:
                if segment == "" or not param.accepts(segment):
                    return None
                values[param.name] = segment
            elif segment.casefold() != str(parts[0]).casefold():
                return None
        return values if len(raw_segments) == n else None

