"""Bicep's syntax, as far as this repository writes it: tokens, a tree of declarations, `refs`."""


from __future__ import annotations

import re
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
