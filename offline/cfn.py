"""Reading template.yaml: CloudFormation short tags, conditions and intrinsic functions.

The offline runtime builds everything from the template itself, so this module resolves the intrinsics the
template uses (Ref, GetAtt, Sub, Join, Select, Split, If, FindInMap, and the condition functions) against the
physical names of locally created resources.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml


class TemplateError(ValueError):
    """The template uses something the offline runtime cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML (or JSON) template, turning short tags into their long form."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass with CFN tags only
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
    return data


class _NoValue:
    """AWS::NoValue: the property it stands in disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class Stack:
    """A template plus what is needed to resolve it: parameter values and the physical ids created so far."""

    template: dict[str, Any]
    root: Path
    stack_name: str
    region: str
    account_id: str
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    # logical id -> value of Ref / (logical id, attribute) -> value of GetAtt
    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Resource types deliberately not created locally: refs to them resolve to "" without a warning.
    unemulated_types: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.parameters = self._parameter_values()
        self.conditions: dict[str, bool] = {}
        for name in self.template.get("Conditions", {}) or {}:
            self.condition(name)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def _parameter_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.template.get("Parameters") or {}).items():
            if name in self.parameter_overrides:
                value: Any = self.parameter_overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no default; pass a value for it")
            if str(spec.get("Type", "")).startswith("List<") or spec.get("Type") == "CommaDelimitedList":
                value = [v.strip() for v in str(value).split(",")] if isinstance(value, str) else value
            values[name] = value
        unknown = set(self.parameter_overrides) - set(values)
        if unknown:
            raise TemplateError(f"unknown parameter override(s): {', '.join(sorted(unknown))}")
        return values

    # -- conditions ---------------------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"unknown condition {name}")
            self.conditions[name] = bool(self.resolve(spec))
        return self.conditions[name]

    def is_active(self, logical_id: str) -> bool:
        """A resource whose `Condition` is false is not created."""
        cond = self.resources[logical_id].get("Condition")
        return True if cond is None else self.condition(cond)

    # -- intrinsics ---------------------------------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        """Resolve every intrinsic function in `node`; unknown physical ids resolve to "" with a warning."""
        if isinstance(node, list):
            return [v for v in (self.resolve(x) for x in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            fn = self._FUNCTIONS.get(key)
            if fn is not None:
                return fn(self, arg)
        out = {}
        for key, value in node.items():
            resolved = self.resolve(value)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }.get(name)

    def ref(self, name: str) -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.resources:
            self._warn_unresolved(name, f"Ref {name}")
            return ""
        raise TemplateError(f"Ref to unknown name {name}")

    def get_att(self, name: str, attr: str) -> str:
        if (name, attr) in self.attrs:
            return self.attrs[(name, attr)]
        if name in self.resources:
            self._warn_unresolved(name, f"GetAtt {name}.{attr}")
            return ""
        raise TemplateError(f"GetAtt of unknown resource {name}")

    def _warn_unresolved(self, name: str, what: str) -> None:
        if self.resources[name].get("Type") not in self.unemulated_types:
            self.warnings.append(f"{what}: no local equivalent, resolved to an empty string")

    def _fn_ref(self, arg: Any) -> Any:
        return self.ref(arg)

    def _fn_get_att(self, arg: Any) -> Any:
        name, attr = arg if isinstance(arg, list) else str(arg).split(".", 1)
        return self.get_att(name, self.resolve(attr))

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1])
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            var = match.group(1).strip()
            if var in variables:
                return str(variables[var])
            if "." in var and var.split(".", 1)[0] in self.resources:
                return str(self.get_att(*var.split(".", 1)))
            return str(self.ref(var))

        return _SUB_VAR.sub(replace, text).replace("${!", "${")

    def _fn_join(self, arg: Any) -> str:
        sep, items = arg
        return str(sep).join(str(v) for v in self.resolve(items))

    def _fn_select(self, arg: Any) -> Any:
        index, items = arg
        return self.resolve(items)[int(self.resolve(index))]

    def _fn_split(self, arg: Any) -> list[str]:
        sep, text = arg
        return str(self.resolve(text)).split(sep)

    def _fn_if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _fn_equals(self, arg: Any) -> bool:
        left, right = (self.resolve(v) for v in arg)
        return str(left) == str(right)

    def _fn_not(self, arg: Any) -> bool:
        return not self.resolve(arg[0])

    def _fn_and(self, arg: Any) -> bool:
        return all(self.resolve(v) for v in arg)

    def _fn_or(self, arg: Any) -> bool:
        return any(self.resolve(v) for v in arg)

    def _fn_condition(self, arg: Any) -> bool:
        return self.condition(arg)

    def _fn_find_in_map(self, arg: Any) -> Any:
        mapping, top, second = (self.resolve(v) for v in arg)
        try:
            return self.template["Mappings"][mapping][top][second]
        except KeyError:
            raise TemplateError(f"FindInMap {mapping}/{top}/{second} has no value") from None

    def _fn_base64(self, arg: Any) -> Any:
        import base64

        return base64.b64encode(str(self.resolve(arg)).encode()).decode()

    _FUNCTIONS: ClassVar[dict[str, Callable[[Stack, Any], Any]]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Sub": _fn_sub,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::If": _fn_if,
        "Fn::Equals": _fn_equals,
        "Fn::Not": _fn_not,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Condition": _fn_condition,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::Base64": _fn_base64,
    }

    # -- dependency order ---------------------------------------------------------------------------------------
    def dependencies(self, logical_id: str) -> set[str]:
        """Resources `logical_id` refers to (Ref, GetAtt, Sub variables, DependsOn)."""
        spec = self.resources[logical_id]
        found: set[str] = set()
        depends = spec.get("DependsOn") or []
        found.update([depends] if isinstance(depends, str) else depends)
        _collect_refs(spec.get("Properties") or {}, found)
        return {name for name in found if name in self.resources and name != logical_id}

    def creation_order(self) -> list[str]:
        """Active resources in an order where every resource comes after those it refers to."""
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise TemplateError(f"circular reference: {' -> '.join((*path, name))}")
            state[name] = 1
            for dep in sorted(self.dependencies(name)):
                visit(dep, (*path, name))
            state[name] = 2
            if self.is_active(name):
                order.append(name)

        for name in self.resources:
            visit(name, ())
        return order

    def of_type(self, *types: str) -> Iterable[tuple[str, dict[str, Any]]]:
        for name, spec in self.resources.items():
            if spec.get("Type") in types and self.is_active(name):
                yield name, spec


def _collect_refs(node: Any, found: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect_refs(item, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".", 1)[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                for var in _SUB_VAR.findall(str(text)):
                    found.add(var.split(".", 1)[0].strip())
                if isinstance(value, list):
                    _collect_refs(value[1], found)
            else:
                _collect_refs(value, found)
