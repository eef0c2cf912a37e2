"""A small reader for the Bicep this repository writes, so tests can check the template.

No Bicep compiler can be installed on the machines this project runs on, which reach only
PyPI, npm and Debian: the Bicep CLI is a native binary that `az bicep install` fetches from
GitHub, and the registry packages that wrap it (bicep-node on npm, the Bicep JSON-RPC
client on PyPI) download it at run time too. So the tests do two things instead:

- parse every file with pycep-parser (a third-party Lark grammar of Bicep), an
  independent syntax check;
- parse it again here into a precise tree and *evaluate* it for a given set of
  parameters, the way ARM would, with deploy-time values (resource ids, keys, principal
  ids) left symbolic. Tests then assert on the evaluated resources: which roles go to
  which scope, which app settings each hosting plan gets, whether shared keys are on.

This covers the subset of Bicep the templates use; anything else is a parse error, which
is the point: a construct this reader does not know is one no test has looked at.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# --------------------------------------------------------------------------- tokens


class BicepSyntaxError(Exception):
    pass


@dataclass(frozen=True)
class Tok:
    kind: str  # ident, int, string, punct, newline, eof
    value: Any
    line: int


_PUNCT = sorted(
    ["{", "}", "[", "]", "(", ")", ",", ":", ".", "?", "??", "!", "!=", "==", "&&", "||", "@", "=",
     "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "=~", "!~", "::", ".?"],
    key=len, reverse=True)
_ESCAPES = {"'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "$": "$"}


def _read_string(src: str, i: int, line: int) -> tuple[list, int]:
    """Read a '...' literal starting at src[i] == "'"; return (parts, next index).

    parts mixes literal text and ('expr', source, line) for each ${...} interpolation.
    """
    if src.startswith("'''", i):
        end = src.find("'''", i + 3)
        if end < 0:
            raise BicepSyntaxError(f"line {line}: unterminated multi-line string")
        return [src[i + 3:end]], end + 3
    parts: list = []
    text: list[str] = []
    i += 1
    while True:
        if i >= len(src) or src[i] == "\n":
            raise BicepSyntaxError(f"line {line}: unterminated string")
        ch = src[i]
        if ch == "'":
            break
        if ch == "\\":
            nxt = src[i + 1] if i + 1 < len(src) else ""
            if nxt not in _ESCAPES:
                raise BicepSyntaxError(f"line {line}: unknown escape \\{nxt}")
            text.append(_ESCAPES[nxt])
            i += 2
            continue
        if src.startswith("${", i):
            if text:
                parts.append("".join(text))
                text = []
            depth, j = 1, i + 2
            while depth:
                if j >= len(src):
                    raise BicepSyntaxError(f"line {line}: unterminated interpolation")
                if src[j] == "'":
                    _, j = _read_string(src, j, line)
                    continue
                depth += {"{": 1, "}": -1}.get(src[j], 0)
                j += 1
            parts.append(("expr", src[i + 2:j - 1], line))
            i = j
            continue
        text.append(ch)
        i += 1
    if text or not parts:
        parts.append("".join(text))
    return parts, i + 1


def tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, line = 0, 1
    while i < len(src):
        ch = src[i]
        if ch in " \t\r":
            i += 1
        elif ch == "\n":
            toks.append(Tok("newline", None, line))
            line += 1
            i += 1
        elif src.startswith("//", i):
            while i < len(src) and src[i] != "\n":
                i += 1
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2)
            if end < 0:
                raise BicepSyntaxError(f"line {line}: unterminated comment")
            line += src.count("\n", i, end)
            i = end + 2
        elif ch == "'":
            start_line = line
            parts, j = _read_string(src, i, line)
            line += src.count("\n", i, j)
            toks.append(Tok("string", parts, start_line))
            i = j
        elif ch.isdigit():
            m = re.match(r"\d+", src[i:])
            toks.append(Tok("int", int(m.group()), line))
            i += m.end()
        elif ch.isalpha() or ch == "_":
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", src[i:])
            toks.append(Tok("ident", m.group(), line))
            i += m.end()
        else:
            for p in _PUNCT:
                if src.startswith(p, i):
                    toks.append(Tok("punct", p, line))
                    i += len(p)
                    break
            else:
                raise BicepSyntaxError(f"line {line}: unexpected character {ch!r}")
    toks.append(Tok("eof", None, line))
    return toks


# --------------------------------------------------------------------------- tree


@dataclass
class Node:
    kind: str  # lit, interp, ref, prop, index, call, unary, binary, cond, obj, arr, for
    a: Any = None
    b: Any = None
    c: Any = None
    line: int = 0


@dataclass
class Decl:
    kind: str  # param, var, resource, module, output, targetScope, metadata
    name: str
    decorators: dict[str, list[Node]] = field(default_factory=dict)
    type: str | None = None  # param/output type, or 'Provider/type@api' for resources
    path: str | None = None  # module path
    existing: bool = False
    value: Node | None = None  # default, value or body
    line: int = 0

    @property
    def resource_type(self) -> str:
        return self.type.split("@")[0]

    @property
    def api_version(self) -> str:
        return self.type.split("@")[1]


class Parser:
    def __init__(self, src: str):
        self.toks = tokenize(src)
        self.pos = 0

    # helpers
    def peek(self, offset: int = 0) -> Tok:
        return self.toks[self.pos + offset]

    def next(self) -> Tok:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def at(self, kind: str, value: Any = None) -> bool:
        tok = self.peek()
        return tok.kind == kind and (value is None or tok.value == value)

    def accept(self, kind: str, value: Any = None) -> Tok | None:
        return self.next() if self.at(kind, value) else None

    def expect(self, kind: str, value: Any = None) -> Tok:
        if not self.at(kind, value):
            tok = self.peek()
            raise BicepSyntaxError(f"line {tok.line}: expected {value or kind}, found {tok.value or tok.kind}")
        return self.next()

    def skip_newlines(self) -> None:
        while self.accept("newline"):
            pass

    def end_of_statement(self) -> None:
        if not (self.accept("newline") or self.at("eof")):
            tok = self.peek()
            raise BicepSyntaxError(f"line {tok.line}: unexpected {tok.value or tok.kind} after statement")

    # program
    def parse(self) -> list[Decl]:
        decls: list[Decl] = []
        self.skip_newlines()
        while not self.at("eof"):
            decls.append(self.statement())
            self.skip_newlines()
        return decls

    def statement(self) -> Decl:
        decorators: dict[str, list[Node]] = {}
        while self.accept("punct", "@"):
            name = self.expect("ident").value
            if name == "sys" and self.accept("punct", "."):
                name = self.expect("ident").value
            decorators[name] = self.call_args()
            self.expect("newline")
            self.skip_newlines()
        tok = self.expect("ident")
        line = tok.line
        keyword = tok.value
        if keyword in ("targetScope",):
            self.expect("punct", "=")
            decl = Decl(keyword, keyword, decorators, value=self.expr(), line=line)
        elif keyword == "metadata":
            name = self.expect("ident").value
            self.expect("punct", "=")
            decl = Decl(keyword, name, decorators, value=self.expr(), line=line)
        elif keyword == "param":
            name = self.expect("ident").value
            ptype = self.expect("ident").value
            default = self.expr() if self.accept("punct", "=") else None
            decl = Decl("param", name, decorators, type=ptype, value=default, line=line)
        elif keyword == "var":
            name = self.expect("ident").value
            self.expect("punct", "=")
            decl = Decl("var", name, decorators, value=self.expr(), line=line)
        elif keyword == "output":
            name = self.expect("ident").value
            otype = self.expect("ident").value
            self.expect("punct", "=")
            decl = Decl("output", name, decorators, type=otype, value=self.expr(), line=line)
        elif keyword == "resource":
            name = self.expect("ident").value
            rtype = self.literal_string()
            if "@" not in rtype:
                raise BicepSyntaxError(f"line {line}: resource type {rtype!r} has no api-version")
            existing = bool(self.accept("ident", "existing"))
            self.expect("punct", "=")
            decl = Decl("resource", name, decorators, type=rtype, existing=existing, value=self.body(), line=line)
        elif keyword == "module":
            name = self.expect("ident").value
            path = self.literal_string()
            self.expect("punct", "=")
            decl = Decl("module", name, decorators, path=path, value=self.body(), line=line)
        else:
            raise BicepSyntaxError(f"line {line}: unknown statement {keyword!r}")
        self.end_of_statement()
        return decl

    def literal_string(self) -> str:
        tok = self.expect("string")
        if len(tok.value) != 1 or not isinstance(tok.value[0], str):
            raise BicepSyntaxError(f"line {tok.line}: expected a plain string")
        return tok.value[0]

    def body(self) -> Node:
        line = self.peek().line
        if self.accept("ident", "if"):
            self.expect("punct", "(")
            condition = self.expr()
            self.expect("punct", ")")
            return Node("cond_body", condition, self.obj(), line=line)
        if self.at("punct", "["):
            return self.primary()
        return self.obj()

    # expressions, lowest precedence first
    def expr(self) -> Node:
        cond = self.coalesce()
        if self.accept("punct", "?"):
            self.skip_newlines()
            yes = self.expr()
            self.skip_newlines()
            self.expect("punct", ":")
            self.skip_newlines()
            no = self.expr()
            return Node("cond", cond, yes, no, line=cond.line)
        return cond

    def _binary(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        left = operand()
        while self.peek().kind == "punct" and self.peek().value in ops:
            op = self.next().value
            self.skip_newlines()
            left = Node("binary", op, left, operand(), line=left.line)
        return left

    def coalesce(self) -> Node:
        return self._binary(("??",), self.or_)

    def or_(self) -> Node:
        return self._binary(("||",), self.and_)

    def and_(self) -> Node:
        return self._binary(("&&",), self.equality)

    def equality(self) -> Node:
        return self._binary(("==", "!=", "=~", "!~"), self.relational)

    def relational(self) -> Node:
        return self._binary(("<", ">", "<=", ">="), self.additive)

    def additive(self) -> Node:
        return self._binary(("+", "-"), self.multiplicative)

    def multiplicative(self) -> Node:
        return self._binary(("*", "/", "%"), self.unary)

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "punct" and tok.value in ("!", "-"):
            self.next()
            return Node("unary", tok.value, self.unary(), line=tok.line)
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.accept("punct", ".") or self.accept("punct", ".?"):
                name = self.expect("ident").value
                if self.at("punct", "("):
                    node = Node("call", Node("prop", node, name, line=node.line), self.call_args(), line=node.line)
                else:
                    node = Node("prop", node, name, line=node.line)
            elif self.accept("punct", "::"):
                node = Node("prop", node, self.expect("ident").value, line=node.line)
            elif self.at("punct", "["):
                self.next()
                index = self.expr()
                self.expect("punct", "]")
                node = Node("index", node, index, line=node.line)
            else:
                return node

    def call_args(self) -> list[Node]:
        self.expect("punct", "(")
        args: list[Node] = []
        self.skip_newlines()
        while not self.accept("punct", ")"):
            args.append(self.expr())
            self.skip_newlines()
            if not self.accept("punct", ","):
                self.skip_newlines()
                self.expect("punct", ")")
                break
            self.skip_newlines()
        return args

    def primary(self) -> Node:
        tok = self.peek()
        if tok.kind == "int":
            self.next()
            return Node("lit", tok.value, line=tok.line)
        if tok.kind == "string":
            self.next()
            parts = [p if isinstance(p, str) else Parser(p[1]).sub_expr() for p in tok.value]
            if len(parts) == 1 and isinstance(parts[0], str):
                return Node("lit", parts[0], line=tok.line)
            return Node("interp", parts, line=tok.line)
        if tok.kind == "ident":
            self.next()
            if tok.value in ("true", "false"):
                return Node("lit", tok.value == "true", line=tok.line)
            if tok.value == "null":
                return Node("lit", None, line=tok.line)
            if self.at("punct", "("):
                return Node("call", tok.value, self.call_args(), line=tok.line)
            return Node("ref", tok.value, line=tok.line)
        if tok.kind == "punct" and tok.value == "(":
            self.next()
            self.skip_newlines()
            inner = self.expr()
            self.skip_newlines()
            self.expect("punct", ")")
            return inner
        if tok.kind == "punct" and tok.value == "{":
            return self.obj()
        if tok.kind == "punct" and tok.value == "[":
            return self.array()
        raise BicepSyntaxError(f"line {tok.line}: unexpected {tok.value or tok.kind}")

    def sub_expr(self) -> Node:
        node = self.expr()
        self.expect("eof")
        return node

    def obj(self) -> Node:
        start = self.expect("punct", "{")
        items: list[tuple[Any, Node]] = []
        self.skip_newlines()
        while not self.accept("punct", "}"):
            key_tok = self.next()
            if key_tok.kind == "ident":
                key: Any = key_tok.value
            elif key_tok.kind == "string":
                parts = [p if isinstance(p, str) else Parser(p[1]).sub_expr() for p in key_tok.value]
                key = parts[0] if len(parts) == 1 and isinstance(parts[0], str) else Node("interp", parts)
            else:
                raise BicepSyntaxError(f"line {key_tok.line}: bad object key {key_tok.value!r}")
            self.expect("punct", ":")
            items.append((key, self.expr()))
            if self.accept("punct", ","):
                self.skip_newlines()
                continue
            if not self.at("punct", "}"):
                self.expect("newline")
            self.skip_newlines()
        return Node("obj", items, line=start.line)

    def array(self) -> Node:
        start = self.expect("punct", "[")
        self.skip_newlines()
        if self.accept("ident", "for"):
            if self.accept("punct", "("):
                item = self.expect("ident").value
                self.expect("punct", ",")
                index = self.expect("ident").value
                self.expect("punct", ")")
            else:
                item, index = self.expect("ident").value, None
            self.expect("ident", "in")
            iterable = self.expr()
            self.expect("punct", ":")
            condition = None
            if self.accept("ident", "if"):
                self.expect("punct", "(")
                condition = self.expr()
                self.expect("punct", ")")
            body = self.expr()
            self.skip_newlines()
            self.expect("punct", "]")
            return Node("for", (item, index), iterable, (body, condition), line=start.line)
        items: list[Node] = []
        while not self.accept("punct", "]"):
            items.append(self.expr())
            if not self.accept("punct", ","):
                if not self.at("punct", "]"):
                    self.expect("newline")
            self.skip_newlines()
        return Node("arr", items, line=start.line)


def parse_file(path: Path) -> list[Decl]:
    try:
        return Parser(path.read_text()).parse()
    except BicepSyntaxError as exc:
        raise BicepSyntaxError(f"{path}: {exc}") from None


def refs(node: Any) -> set[str]:
    """Every bare identifier an expression mentions."""
    found: set[str] = set()

    def walk(n: Any) -> None:
        if isinstance(n, Node):
            if n.kind == "ref":
                found.add(n.a)
            for part in (n.a, n.b, n.c):
                walk(part)
        elif isinstance(n, (list, tuple)):
            for part in n:
                walk(part)

    walk(node)
    return found


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Deferred:
    """A value known only at deployment time (a resource id, a key, a principal id)."""

    text: str

    def __str__(self) -> str:
        return "<" + self.text + ">"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Deployment:
    """Simulated deployment context: the public cloud, a fixed subscription and group."""

    subscription_id: str = "00000000-0000-0000-0000-00000000aaaa"
    tenant_id: str = "00000000-0000-0000-0000-00000000bbbb"
    resource_group: str = "rg-scheduler"
    location: str = "westeurope"


@dataclass
class Resource:
    symbol: str
    type: str
    api_version: str
    existing: bool
    body: dict
    scope: str  # 'resourceGroup:<sub>/<rg>' plus the module path that created it
    file: str


class ResourceRef:
    """A symbolic resource or module name used in an expression (scope:, parent:, dependsOn)."""

    def __init__(self, evaluator: "Evaluator", decl: Decl):
        self.evaluator, self.decl = evaluator, decl

    @property
    def symbol(self) -> str:
        return self.decl.name

    def __repr__(self) -> str:
        return f"ResourceRef({self.decl.name})"

    def attr(self, name: str) -> Any:
        if name == "name":
            body = self.evaluator.resource_body(self.decl)
            return body["name"]
        if name == "id":
            return Deferred(f"{self.decl.name}.id")
        return Deferred(f"{self.decl.name}.{name}")


class Evaluator:
    """Evaluates one Bicep file for given parameter values, as ARM would."""

    def __init__(self, path: Path, params: dict[str, Any] | None = None, *, deployment: Deployment | None = None,
                 scope: tuple[str, str] | None = None):
        self.path = path
        self.decls = parse_file(path)
        self.deployment = deployment or Deployment()
        self.scope = scope or (self.deployment.subscription_id, self.deployment.resource_group)
        self.by_name = {d.name: d for d in self.decls if d.kind in ("param", "var", "resource", "module")}
        unknown = set(params or {}) - {d.name for d in self.decls if d.kind == "param"}
        if unknown:
            raise KeyError(f"{path.name} has no parameter(s) {sorted(unknown)}")
        self.given = dict(params or {})
        self.values: dict[str, Any] = {}
        self._busy: set[str] = set()
        self._bodies: dict[str, Any] = {}

    # names
    def params(self) -> dict[str, Decl]:
        return {d.name: d for d in self.decls if d.kind == "param"}

    def value(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        decl = self.by_name.get(name)
        if decl is None:
            raise NameError(f"{self.path.name}: unknown name {name!r}")
        if decl.kind in ("resource", "module"):
            return ResourceRef(self, decl)
        if name in self._busy:
            raise RecursionError(f"{self.path.name}: {name} refers to itself")
        self._busy.add(name)
        try:
            if decl.kind == "param":
                if name in self.given:
                    result = self.given[name]
                elif decl.value is not None:
                    result = self.eval(decl.value, {})
                else:
                    raise KeyError(f"{self.path.name}: parameter {name} has no default and was not given")
                self._check_bounds(decl, result)
            else:
                result = self.eval(decl.value, {})
        finally:
            self._busy.discard(name)
        self.values[name] = result
        return result

    def _check_bounds(self, decl: Decl, value: Any) -> None:
        """The parameter decorators ARM enforces before anything is deployed."""
        rules = {name: self.eval(args[0], {}) for name, args in decl.decorators.items()
                 if name in ("allowed", "minValue", "maxValue", "minLength", "maxLength")}
        if isinstance(value, Deferred):
            return
        if "allowed" in rules and value not in rules["allowed"]:
            raise ValueError(f"{decl.name}={value!r} is not allowed")
        if "minValue" in rules and value < rules["minValue"] or "maxValue" in rules and value > rules["maxValue"]:
            raise ValueError(f"{decl.name}={value!r} is out of range")
        if "minLength" in rules and len(value) < rules["minLength"] or (
                "maxLength" in rules and len(value) > rules["maxLength"]):
            raise ValueError(f"{decl.name}={value!r} has the wrong length")

    def resource_body(self, decl: Decl) -> Any:
        if decl.name not in self._bodies:
            body = decl.value
            if body.kind == "cond_body":
                body = body.b
            if body.kind == "for":
                raise ValueError(f"{decl.name}: a looped resource has no single body")
            self._bodies[decl.name] = self.eval(body, {})
        return self._bodies[decl.name]

    # expressions
    def eval(self, node: Node, local: dict[str, Any]) -> Any:
        kind = node.kind
        if kind == "lit":
            return node.a
        if kind == "interp":
            parts = [p if isinstance(p, str) else self.eval(p, local) for p in node.a]
            if len(parts) == 1 and isinstance(parts[0], Deferred):
                return parts[0]
            text = "".join(_text(p) for p in parts)
            return Deferred(text) if any(isinstance(p, Deferred) for p in parts) else text
        if kind == "ref":
            return local[node.a] if node.a in local else self.value(node.a)
        if kind == "prop":
            return self._prop(self.eval(node.a, local), node.b)
        if kind == "index":
            target, key = self.eval(node.a, local), self.eval(node.b, local)
            if isinstance(target, Deferred) or isinstance(key, Deferred):
                return Deferred(f"{target}[{key}]")
            return target[key]
        if kind == "call":
            return self._call(node, local)
        if kind == "unary":
            operand = self.eval(node.b, local)
            self._concrete(operand, node)
            return (not operand) if node.a == "!" else -operand
        if kind == "binary":
            return self._binary(node, local)
        if kind == "cond":
            test = self.eval(node.a, local)
            self._concrete(test, node)
            # Like ARM's if(): only the chosen branch is evaluated.
            return self.eval(node.b if test else node.c, local)
        if kind == "obj":
            result = {}
            for key, value in node.a:
                key_value = self.eval(key, local) if isinstance(key, Node) else key
                result[_text(key_value)] = self.eval(value, local)
            return result
        if kind == "arr":
            return [self.eval(item, local) for item in node.a]
        if kind == "for":
            (item, index), iterable, (body, condition) = node.a, node.b, node.c
            out = []
            for i, element in enumerate(self.eval(iterable, local)):
                scope = {**local, item: element}
                if index:
                    scope[index] = i
                if condition is None or self.eval(condition, scope):
                    out.append(self.eval(body, scope))
            return out
        raise BicepSyntaxError(f"line {node.line}: cannot evaluate {kind}")

    @staticmethod
    def _concrete(value: Any, node: Node) -> None:
        if isinstance(value, Deferred):
            raise ValueError(f"line {node.line}: decision depends on a deploy-time value {value}")

    def _prop(self, target: Any, name: str) -> Any:
        if isinstance(target, ResourceRef):
            return target.attr(name)
        if isinstance(target, Deferred):
            return Deferred(f"{target.text}.{name}")
        if isinstance(target, dict):
            return target[name]
        raise TypeError(f"cannot read .{name} of {target!r}")

    def _binary(self, node: Node, local: dict[str, Any]) -> Any:
        op = node.a
        left = self.eval(node.b, local)
        if op == "&&":
            self._concrete(left, node)
            return bool(left) and bool(self.eval(node.c, local))
        if op == "||":
            self._concrete(left, node)
            return bool(left) or bool(self.eval(node.c, local))
        if op == "??":
            return self.eval(node.c, local) if left is None else left
        right = self.eval(node.c, local)
        self._concrete(left, node)
        self._concrete(right, node)
        return {
            "==": lambda: left == right, "!=": lambda: left != right,
            "=~": lambda: str(left).lower() == str(right).lower(),
            "!~": lambda: str(left).lower() != str(right).lower(),
            "<": lambda: left < right, ">": lambda: left > right,
            "<=": lambda: left <= right, ">=": lambda: left >= right,
            "+": lambda: left + right, "-": lambda: left - right,
            "*": lambda: left * right, "/": lambda: left // right, "%": lambda: left % right,
        }[op]()

    def _call(self, node: Node, local: dict[str, Any]) -> Any:
        callee, arg_nodes = node.a, node.b
        if isinstance(callee, Node):  # a method: storage.listKeys()
            target, method = callee.a, callee.b
            owner = self.eval(target, local)
            if method.startswith("list"):
                name = owner.decl.name if isinstance(owner, ResourceRef) else str(owner)
                return {"keys": [{"value": Deferred(f"{name}.{method}().key")}]}
            raise BicepSyntaxError(f"line {node.line}: unknown method {method}")
        args = [self.eval(a, local) for a in arg_nodes]
        dep = self.deployment
        if callee == "resourceGroup":
            sub, rg = (args if len(args) == 2 else (self.scope[0], args[0])) if args else self.scope
            return {"id": f"/subscriptions/{sub}/resourceGroups/{rg}", "name": rg, "location": dep.location,
                    "subscriptionId": sub}
        if callee == "subscription":
            return {"subscriptionId": self.scope[0], "id": f"/subscriptions/{self.scope[0]}"}
        if callee == "tenant":
            return {"tenantId": dep.tenant_id}
        if callee == "environment":
            return {"name": "AzureCloud", "resourceManager": "https://management.azure.com/",
                    "suffixes": {"storage": "core.windows.net"},
                    "authentication": {"loginEndpoint": "https://login.microsoftonline.com/"}}
        if callee == "subscriptionResourceId":
            return f"/subscriptions/{self.scope[0]}/providers/{args[0]}/{'/'.join(_text(a) for a in args[1:])}"
        if callee in ("uniqueString", "guid"):
            seed = "|".join(_text(a) for a in args)
            if callee == "guid":
                return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
            return hashlib.sha256(seed.encode()).hexdigest()[:13]
        if any(isinstance(a, Deferred) for a in args) and callee not in ("union", "empty", "items"):
            return Deferred(f"{callee}({', '.join(_text(a) for a in args)})")
        functions: dict[str, Callable[..., Any]] = {
            "union": _union,
            "empty": lambda v: v in (None, "", [], {}),
            "string": _text,
            "int": int,
            "toLower": lambda s: s.lower(),
            "toUpper": lambda s: s.upper(),
            "replace": lambda s, old, new: s.replace(old, new),
            "take": lambda s, n: s[:n],
            "length": len,
            "contains": lambda c, v: v in c,
            "concat": lambda *xs: "".join(_text(x) for x in xs),
            "items": lambda o: [{"key": k, "value": o[k]} for k in sorted(o, key=str.lower)],
        }
        if callee not in functions:
            raise BicepSyntaxError(f"line {node.line}: function {callee}() is not modelled by this reader")
        return functions[callee](*args)

    # whole-template results
    def resources(self) -> list[Resource]:
        """Every resource this deployment would create or reference, modules included."""
        out: list[Resource] = []
        scope = f"{self.scope[0]}/{self.scope[1]}"
        for decl in self.decls:
            if decl.kind == "resource":
                out.extend(self._instances(decl, scope))
            elif decl.kind == "module":
                out.extend(self._module(decl))
        return out

    def _instances(self, decl: Decl, scope: str) -> list[Resource]:
        body = decl.value
        if body.kind == "cond_body":
            if not self.eval(body.a, {}):
                return []
            body = body.b
        bodies = self.eval(body, {}) if body.kind == "for" else [self.resource_body(decl)]
        return [Resource(decl.name, decl.resource_type, decl.api_version, decl.existing, b, scope, self.path.name)
                for b in bodies]

    def _module(self, decl: Decl) -> list[Resource]:
        body = decl.value
        if body.kind == "cond_body":
            if not self.eval(body.a, {}):
                return []
            body = body.b
        config = self.eval(body, {})
        scope = config.get("scope")
        target = (scope["subscriptionId"], scope["name"]) if isinstance(scope, dict) else self.scope
        child = Evaluator(self.path.parent / decl.path, config.get("params", {}), deployment=self.deployment,
                          scope=target)
        return child.resources()


def _union(*objects: Any) -> Any:
    if all(isinstance(o, dict) for o in objects):
        merged: dict = {}
        for o in objects:
            merged.update(o)
        return merged
    if all(isinstance(o, list) for o in objects):
        merged_list: list = []
        for o in objects:
            merged_list.extend(x for x in o if x not in merged_list)
        return merged_list
    return Deferred("union(...)")
