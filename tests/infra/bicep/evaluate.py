"""Evaluating parsed Bicep for a set of parameters, as ARM would: deploy-time values stay symbolic."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tests.infra.bicep.syntax import BicepSyntaxError, Decl, Node, parse_file

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
