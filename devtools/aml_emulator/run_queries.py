"""Run queries: the OData ``$filter`` subset, ``orderBy`` and continuation tokens.

Used by ``POST .../runs:query`` (QueryParams in the body) and ``GET .../runs``
(``$filter``, ``$orderby``, ``$top``, ``$continuationtoken`` in the query string).
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import re
from typing import Any, Callable

from devtools.aml_emulator.errors import bad_request


def encode_token(offset: int) -> str:
    """An opaque continuation token; clients must not rely on what it holds."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def decode_token(token: Any) -> int:
    if token in (None, ""):
        return 0
    if not isinstance(token, str):
        raise bad_request("continuationToken must be a string.")
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(data["offset"])
    except (ValueError, KeyError, TypeError):
        raise bad_request("continuationToken is not valid.") from None
    if offset < 0:
        raise bad_request("continuationToken is not valid.")
    return offset


_ORDER_FIELDS = {
    "createdutc": "createdUtc",
    "starttimeutc": "startTimeUtc",
    "endtimeutc": "endTimeUtc",
    "runid": "runId",
    "status": "status",
    "runnumber": "runNumber",
}


def parse_order_by(order_by: Any) -> list[tuple[str, bool]]:
    """(run field, descending) pairs from ``"CreatedUtc desc, RunId"`` or a list of such items."""
    if order_by in (None, "", []):
        return [("createdUtc", True)]  # newest first
    items = order_by if isinstance(order_by, list) else str(order_by).split(",")
    keys = []
    for item in items:
        words = str(item).split()
        if not words or len(words) > 2 or words[0].lower() not in _ORDER_FIELDS:
            raise bad_request(f"Cannot order by {item!r}.")
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise bad_request(f"Cannot order by {item!r}.")
        keys.append((_ORDER_FIELDS[words[0].lower()], direction == "desc"))
    return keys


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) |
        '(?P<squote>(?:[^']|'')*)' |
        "(?P<dquote>(?:[^"\\]|\\.)*)" |
        (?P<number>-?\d+(?:\.\d+)?(?![\w./:-])) |
        (?P<word>[A-Za-z_][\w./:-]*)
    )""",
    re.VERBOSE,
)
_SCALAR_FIELDS = {
    "status": "status",
    "runtype": "runType",
    "runid": "runId",
    "parentrunid": "parentRunId",
    "target": "target",
    "name": "name",
    "experimentid": "experimentId",
    "createdutc": "createdUtc",
    "starttimeutc": "startTimeUtc",
    "endtimeutc": "endTimeUtc",
}
_TIME_FIELDS = {"createdUtc", "startTimeUtc", "endTimeUtc"}
_OPERATORS = {"eq", "ne", "gt", "ge", "lt", "le"}


class ODataFilter:
    """The subset of run-history OData filters that selects runs by tag, property,
    status or time: comparisons joined with and/or/not and parentheses. String
    literals may use single or double quotes (Microsoft's SDK sends double quotes).
    Anything else is a 400, so a filter the emulator cannot read never silently
    matches every run."""

    def __init__(self, text: str) -> None:
        self._tokens = self._lex(text)
        self._pos = 0
        self._predicate = self._parse_or()
        if self._pos != len(self._tokens):
            raise bad_request(f"Unexpected {self._tokens[self._pos][1]!r} in filter.")

    def matches(self, dto: dict[str, Any]) -> bool:
        return self._predicate(dto)

    @staticmethod
    def _lex(text: str) -> list[tuple[str, Any]]:
        tokens: list[tuple[str, Any]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None:
                raise bad_request(f"Cannot parse filter near {text[pos:pos + 20]!r}.")
            pos = m.end()
            kind = m.lastgroup
            if kind == "squote":
                tokens.append(("string", m.group("squote").replace("''", "'")))
            elif kind == "dquote":
                tokens.append(("string", re.sub(r"\\(.)", r"\1", m.group("dquote"))))
            elif kind == "number":
                tokens.append(("number", float(m.group("number"))))
            elif kind == "word":
                tokens.append(("word", m.group("word")))
            else:
                tokens.append((kind, kind))
        return tokens

    def _peek_word(self) -> str | None:
        if self._pos < len(self._tokens) and self._tokens[self._pos][0] == "word":
            return self._tokens[self._pos][1].lower()
        return None

    def _next(self, what: str) -> tuple[str, Any]:
        if self._pos >= len(self._tokens):
            raise bad_request(f"Filter ended where {what} was expected.")
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def _parse_or(self) -> Callable[[dict[str, Any]], bool]:
        terms = [self._parse_and()]
        while self._peek_word() == "or":
            self._pos += 1
            terms.append(self._parse_and())
        return terms[0] if len(terms) == 1 else (lambda d: any(t(d) for t in terms))

    def _parse_and(self) -> Callable[[dict[str, Any]], bool]:
        factors = [self._parse_not()]
        while self._peek_word() == "and":
            self._pos += 1
            factors.append(self._parse_not())
        return factors[0] if len(factors) == 1 else (lambda d: all(f(d) for f in factors))

    def _parse_not(self) -> Callable[[dict[str, Any]], bool]:
        if self._peek_word() == "not":
            self._pos += 1
            inner = self._parse_not()
            return lambda d: not inner(d)
        if self._pos < len(self._tokens) and self._tokens[self._pos][0] == "lparen":
            self._pos += 1
            inner = self._parse_or()
            if self._next("')'")[0] != "rparen":
                raise bad_request("Unbalanced parentheses in filter.")
            return inner
        return self._parse_comparison()

    def _parse_comparison(self) -> Callable[[dict[str, Any]], bool]:
        kind, field = self._next("a field")
        if kind != "word":
            raise bad_request(f"Expected a field in filter, found {field!r}.")
        getter = self._field_getter(field)
        kind, op = self._next("an operator")
        if kind != "word" or op.lower() not in _OPERATORS:
            raise bad_request(f"Expected eq, ne, gt, ge, lt or le in filter, found {op!r}.")
        op = op.lower()
        kind, literal = self._next("a value")
        if kind == "word" and literal.lower() == "null":
            value: Any = None
        elif kind == "word" and literal.lower() in ("true", "false"):
            value = literal.lower()
        elif kind in ("string", "number"):
            value = literal
        else:
            raise bad_request(f"Expected a quoted value or null in filter, found {literal!r}.")
        is_time = getattr(getter, "is_time", False)
        if is_time and isinstance(value, str):
            value = _parse_time(value)

        def compare(dto: dict[str, Any]) -> bool:
            actual = getter(dto)
            if is_time and isinstance(actual, str):
                actual = _parse_time(actual)
            if isinstance(value, float) and isinstance(actual, str):
                try:
                    actual_cmp: Any = float(actual)
                except ValueError:
                    return op == "ne"
            else:
                actual_cmp = actual
            if op == "eq":
                return actual_cmp == value
            if op == "ne":
                return actual_cmp != value
            if actual_cmp is None or value is None:
                return False
            try:
                return {"gt": actual_cmp > value, "ge": actual_cmp >= value,
                        "lt": actual_cmp < value, "le": actual_cmp <= value}[op]
            except TypeError:
                return False

        return compare

    @staticmethod
    def _field_getter(field: str) -> Callable[[dict[str, Any]], Any]:
        head, _, key = field.partition("/")
        head = head.lower()
        if head in ("tags", "properties") and key:
            container = head

            def from_map(dto: dict[str, Any]) -> Any:
                return (dto.get(container) or {}).get(key)

            return from_map
        if not key and head in _SCALAR_FIELDS:
            name = _SCALAR_FIELDS[head]

            def scalar(dto: dict[str, Any]) -> Any:
                return dto.get(name)

            scalar.is_time = name in _TIME_FIELDS  # type: ignore[attr-defined]
            return scalar
        raise bad_request(f"Cannot filter on {field!r}.")


def _parse_time(text: str) -> _dt.datetime:
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{text!r} is not an ISO-8601 time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)

