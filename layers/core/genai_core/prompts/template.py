r"""`{{variable}}` templates: parsed once when a prompt version is saved, rendered per request.

The syntax is a public contract:
- `{{name}}` or `{{ name }}` (spaces or tabs inside the braces) is a variable; a name matches
  `[A-Za-z_][A-Za-z0-9_]*` and has at most 64 characters.
- `\{{` is a literal `{{` and `\}}` a literal `}}` (the backslash is dropped). The `}}` that closes an escaped `\{{`
  is literal too, so `\{{name}}` renders `{{name}}`. A backslash anywhere else is kept as is.
- Anything else between `{{` and `}}`, an unterminated `{{` and a stray `}}` are errors with line and column.
- Nothing is ever evaluated, and inserted values are never scanned again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from genai_core.errors import InvalidRequest

MAX_NAME_CHARS = 64

_TOKEN = re.compile(r"\\\{\{|\\\}\}|\{\{|\}\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACES = " \t"
_RULE = "letters, digits and '_', not starting with a digit, at most 64 characters"


@dataclass(frozen=True, slots=True)
class Variable:
    name: str


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and variables in order, and the unique names in first-appearance order."""

    segments: tuple[str | Variable, ...]
    variables: tuple[str, ...]

    def render(self, values: Mapping[str, Any]) -> str:
        """Fill every variable; a missing value is an error, extra values are ignored (see `check_variables`)."""
        missing = [name for name in self.variables if name not in values]
        if missing:
            raise InvalidRequest(
                f"missing value for variable(s): {', '.join(missing)}",
                code="prompt_variable_missing",
                param="variables",
            )
        texts = {name: _as_text(name, values[name]) for name in self.variables}
        return "".join(seg if isinstance(seg, str) else texts[seg.name] for seg in self.segments)


def parse(text: str, param: str = "template") -> Template:
    """Parse `text`, raising `InvalidRequest(code="prompt_template_invalid", param=param)` at the first problem."""
    segments: list[str | Variable] = []
    names: dict[str, None] = {}
    literal: list[str] = []
    pos = 0
    escaped_open = False  # a `\{{` whose `}}` is literal too
    while (match := _TOKEN.search(text, pos)) is not None:
        start, mark = match.start(), match.group()
        literal.append(text[pos:start])
        pos = match.end()
        if mark == "{{":
            end = text.find("}}", pos)
            if end < 0 or "{{" in text[pos:end]:
                raise _invalid("unterminated '{{'", text, start, param, " (write '\\{{' for a literal '{{')")
            name = text[pos:end].strip(_SPACES)
            if not name:
                raise _invalid("empty variable '{{ }}'", text, start, param)
            if len(name) > MAX_NAME_CHARS or not _NAME.fullmatch(name):
                raise _invalid(f"invalid variable name '{_show(name)}'", text, start, param, f" ({_RULE})")
            if any(literal):
                segments.append("".join(literal))
            literal.clear()
            segments.append(Variable(name))
            names[name] = None
            pos = end + 2
        elif mark == "}}" and not escaped_open:
            raise _invalid("unexpected '}}'", text, start, param, " (write '\\}}' for a literal '}}')")
        else:
            literal.append(mark[-2:])
            escaped_open = mark == "\\{{"
    literal.append(text[pos:])
    if any(literal):
        segments.append("".join(literal))
    return Template(tuple(segments), tuple(names))


def check_variables(required: Iterable[str], values: Mapping[str, Any]) -> None:
    """Refuse values that leave a variable unfilled or name one the template does not use (case-sensitive)."""
    if not isinstance(values, Mapping):
        raise InvalidRequest("'variables' must be an object of variable names to values", param="variables")
    used = tuple(dict.fromkeys(required))
    known = set(used)
    missing = [name for name in used if name not in values]
    unknown = [_show(str(name)) for name in values if name not in known]
    uses = f"this prompt version uses: {', '.join(used)}" if used else "this prompt version uses no variables"
    if missing:
        message = f"missing value for variable(s): {', '.join(missing)}"
        if unknown:
            message += f"; unknown variable(s): {', '.join(unknown)} ({uses})"
        raise InvalidRequest(message, code="prompt_variable_missing", param="variables")
    if unknown:
        raise InvalidRequest(
            f"unknown variable(s): {', '.join(unknown)} ({uses})", code="prompt_variable_unknown", param="variables"
        )


def render_text(template_text: str, values: Mapping[str, Any], param: str = "template") -> str:
    """Parse, check (missing and unknown) and render a text prompt."""
    template = parse(template_text, param)
    check_variables(template.variables, values)
    return template.render(values)


def variables_of_messages(messages: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    """The variables of a chat prompt: every message's `content`, unique, in first-appearance order."""
    return _union(_parse_messages(messages))


def render_messages(messages: Sequence[Mapping[str, str]], values: Mapping[str, Any]) -> list[dict[str, str]]:
    """Check the values against every message, then return new messages with `content` rendered."""
    templates = _parse_messages(messages)
    check_variables(_union(templates), values)
    rendered: list[dict[str, str]] = []
    for message, template in zip(messages, templates, strict=True):
        copy = dict(message)
        if "content" in copy:
            copy["content"] = template.render(values)
        rendered.append(copy)
    return rendered


def _parse_messages(messages: Sequence[Mapping[str, str]]) -> list[Template]:
    templates: list[Template] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidRequest(f"messages[{i}] must be an object with 'role' and 'content'", param=f"messages[{i}]")
        content = message.get("content", "")
        if not isinstance(content, str):
            raise InvalidRequest(f"messages[{i}].content must be a string", param=f"messages[{i}].content")
        templates.append(parse(content, param=f"messages[{i}].content"))
    return templates


def _union(templates: Iterable[Template]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for template in templates for name in template.variables))


def _as_text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(
            f"value of variable {name} must be a JSON string, number, boolean, null, array or object",
            code="prompt_variable_invalid",
            param="variables",
        ) from exc


def _invalid(problem: str, text: str, pos: int, param: str, hint: str = "") -> InvalidRequest:
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return InvalidRequest(
        f"{problem} at line {line}, column {column} of {param}{hint}", code="prompt_template_invalid", param=param
    )


def _show(name: str) -> str:
    return name if len(name) <= 40 else name[:40] + "…"
