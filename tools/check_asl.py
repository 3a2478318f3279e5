"""Check the Step Functions definitions that a SAM template points at.

`python -m tools.check_asl template.yaml` (from the repository root) loads every
`AWS::Serverless::StateMachine` definition (DefinitionUri or
inline Definition) and reports, naming the file and the state:

- invalid JSON, a missing or unknown `StartAt`;
- a `Next`, `Default`, Choice rule `Next` or Catch `Next` that names no state, a state that neither moves on nor
  ends, and states that cannot be reached - in every scope, including Map (`ItemProcessor`/`Iterator`) and
  Parallel `Branches`;
- a Task without a non-empty `Retry` and `Catch` (inside a Map or Parallel whose own `Catch` takes the errors
  of what runs in it, a Task needs no `Catch` of its own);
- a `${Name}` placeholder without a DefinitionSubstitutions entry, and an entry that no placeholder uses.

`sam validate --lint` checks none of this. Exit status 1 lists every problem; 0 prints one OK line.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline.cfn import load_template

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
# States that decide their own way out; every other type needs `Next` or `End: true`.
_SELF_ROUTED = {"Choice", "Succeed", "Fail"}


@dataclass(frozen=True)
class StateMachineSpec:
    """One state machine of the template: where its definition is and which substitutions it gets."""

    logical_id: str
    label: str  # how problems name the definition: its path relative to the template, or "<id> (inline)"
    text: str | None  # the definition's text, None when it could not be read
    substitutions: frozenset[str]
    error: str | None = None


def state_machines(template: Mapping[str, Any], base_dir: Path) -> Iterator[StateMachineSpec]:
    """Yield each AWS::Serverless::StateMachine of `template`, reading DefinitionUri relative to `base_dir`."""
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::StateMachine":
            continue
        props = resource.get("Properties") or {}
        substitutions = frozenset((props.get("DefinitionSubstitutions") or {}).keys())
        if "Definition" in props:
            yield StateMachineSpec(logical_id, f"{logical_id} (inline)", json.dumps(props["Definition"]), substitutions)
            continue
        uri = props.get("DefinitionUri")
        if not isinstance(uri, str):
            yield StateMachineSpec(
                logical_id, logical_id, None, substitutions, error="DefinitionUri is not a local file path"
            )
            continue
        try:
            text = (base_dir / uri).read_text(encoding="utf-8")
        except OSError as exc:
            yield StateMachineSpec(logical_id, uri, None, substitutions, error=f"cannot read: {exc.strerror}")
            continue
        yield StateMachineSpec(logical_id, uri, text, substitutions)


def check_substitutions(text: str, substitutions: frozenset[str]) -> list[str]:
    """Placeholders without a substitution and substitutions no placeholder uses."""
    used = set(PLACEHOLDER.findall(text))
    missing = [f"placeholder ${{{name}}} has no DefinitionSubstitutions entry" for name in sorted(used - substitutions)]
    unused = [f"DefinitionSubstitutions entry {name} is not used" for name in sorted(substitutions - used)]
    return missing + unused


def _transitions(state: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, target) for every transition out of `state`."""
    if "Next" in state:
        yield "Next", state["Next"]
    if "Default" in state:
        yield "Default", state["Default"]
    for i, rule in enumerate(state.get("Choices") or []):
        if isinstance(rule, dict):
            yield f"Choices[{i}].Next", rule.get("Next")
    for i, catcher in enumerate(state.get("Catch") or []):
        if isinstance(catcher, dict):
            yield f"Catch[{i}].Next", catcher.get("Next")


def _nested_scopes(name: str, state: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(scope name, machine) for the sub-machines of a Map or Parallel state."""
    for key in ("ItemProcessor", "Iterator"):
        if key in state:
            yield f"{name} > {key}", state[key]
    for i, branch in enumerate(state.get("Branches") or []):
        yield f"{name} > Branches[{i}]", branch


def check_machine(machine: Any, scope: str = "", caught: bool = False) -> list[str]:
    """Structural problems of one (sub-)machine and of everything nested in it, each naming its state.

    `caught`: the machine runs inside a Map or Parallel state with a Catch, which catches what its tasks raise."""

    def where(state_name: str) -> str:
        return f"state '{scope} > {state_name}'" if scope else f"state '{state_name}'"

    top = f"'{scope}'" if scope else "top level"
    if not isinstance(machine, dict) or not isinstance(machine.get("States"), dict) or not machine["States"]:
        return [f"{top}: no States"]
    states: dict[str, Any] = machine["States"]
    problems: list[str] = []

    start = machine.get("StartAt")
    if start is None:
        problems.append(f"{top}: StartAt is missing")
    elif not _names_state(start, states):
        problems.append(f"{top}: StartAt '{start}' names no state")

    for name, state in states.items():
        if not isinstance(state, dict):
            problems.append(f"{where(name)}: is not an object")
            continue
        kind = state.get("Type")
        for field, target in _transitions(state):
            if not _names_state(target, states):
                problems.append(f"{where(name)}: {field} '{target}' names no state")
        if kind not in _SELF_ROUTED and "Next" not in state and state.get("End") is not True:
            problems.append(f"{where(name)}: has neither Next nor End")
        if kind == "Task":
            for field in ("Retry",) if caught else ("Retry", "Catch"):
                if not state.get(field):
                    problems.append(f"{where(name)}: Task has no {field}")
        for sub_scope, sub_machine in _nested_scopes(f"{scope} > {name}" if scope else name, state):
            problems += check_machine(sub_machine, sub_scope, caught or bool(state.get("Catch")))

    problems += [f"{where(name)}: unreachable from StartAt" for name in _unreachable(states, start)]
    return problems


def _names_state(target: Any, states: Mapping[str, Any]) -> bool:
    return isinstance(target, str) and target in states


def _unreachable(states: Mapping[str, Any], start: Any) -> list[str]:
    seen: set[str] = set()
    todo = [start] if _names_state(start, states) else []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        if isinstance(state, dict):
            todo += [target for _, target in _transitions(state) if _names_state(target, states)]
    return [name for name in states if name not in seen]


def check_definition(text: str, substitutions: frozenset[str]) -> list[str]:
    """Every problem of one definition's text (placeholders are checked on the raw text, before JSON parsing)."""
    problems = check_substitutions(text, substitutions)
    # A placeholder may stand outside a string (e.g. "MaxConcurrency": ${N}); parse with a harmless stand-in.
    try:
        machine = json.loads(PLACEHOLDER.sub("0", text))
    except json.JSONDecodeError as exc:
        return [f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", *problems]
    return check_machine(machine) + problems


def check_template(template_path: Path) -> tuple[list[str], list[StateMachineSpec]]:
    """(problems, state machines checked) for every state machine of the template; problems name the file."""
    template = load_template(template_path)
    specs = list(state_machines(template, template_path.parent))
    problems: list[str] = []
    for spec in specs:
        if spec.text is None:
            found = [spec.error or "cannot read the definition"]
        else:
            found = check_definition(spec.text, spec.substitutions)
        problems += [f"{spec.label} ({spec.logical_id}): {problem}" for problem in found]
    return problems, specs


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tools.check_asl template.yaml", file=sys.stderr)
        return 2
    problems, specs = check_template(Path(args[0]))
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s) in the state machine definitions", file=sys.stderr)
        return 1
    checked = ", ".join(f"{spec.logical_id} ({spec.label})" for spec in specs) or "none found"
    print(f"OK: state machine definitions are consistent: {checked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
