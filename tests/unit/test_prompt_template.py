"""The `{{variable}}` template engine of prompt management: syntax, errors with positions, rendering, chat prompts."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from genai_core.errors import InvalidRequest
from genai_core.prompts.template import (
    Template,
    check_variables,
    parse,
    render_messages,
    render_text,
    variables_of_messages,
)


def test_variables_are_filled() -> None:
    # GIVEN a template with two variables
    template = parse("Hello {{name}}, write in a {{tone}} tone.")

    # WHEN it is rendered
    text = template.render({"name": "Ada", "tone": "friendly"})

    # THEN each variable is replaced by its value and the rest is kept
    assert text == "Hello Ada, write in a friendly tone."
    assert template.variables == ("name", "tone")


def test_spaces_and_tabs_inside_the_braces_are_allowed() -> None:
    # GIVEN variables written with spaces or tabs around the name
    template = parse("{{ name }}|{{\tname\t}}|{{name }}|{{  other}}")

    # WHEN / THEN they are the same variables
    assert template.variables == ("name", "other")
    assert template.render({"name": "x", "other": "y"}) == "x|x|x|y"


def test_a_repeated_variable_is_listed_once_and_filled_everywhere() -> None:
    # GIVEN a variable used three times among others
    template = parse("{{b}} {{a}} {{b}} {{c}} {{a}} {{b}}")

    # WHEN / THEN it is listed once in first-appearance order, and every use is filled
    assert template.variables == ("b", "a", "c")
    assert template.render({"a": "1", "b": "2", "c": "3"}) == "2 1 2 3 1 2"


def test_a_template_without_variables_renders_unchanged() -> None:
    # GIVEN text with single braces and no variables
    template = parse("function f() { return {a: 1}; }")

    # WHEN / THEN
    assert template.variables == ()
    assert template.render({}) == "function f() { return {a: 1}; }"


def test_the_empty_template_renders_empty() -> None:
    assert parse("").render({}) == ""
    assert parse("").variables == ()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("\\{{name}}", "{{name}}"),
        ("say \\{{ name }} literally", "say {{ name }} literally"),
        ("a \\}} b", "a }} b"),
        ("\\{{a\\}} then }}", None),  # the escaped }} closed the literal: the last }} is stray
        ("\\{{x}} and {{name}}", "{{x}} and Ada"),
        ("\\{{ {{name}} }}", "{{ Ada }}"),
    ],
)
def test_a_backslash_before_braces_makes_them_literal(source: str, expected: str | None) -> None:
    # GIVEN escaped braces
    # WHEN it is parsed and rendered
    if expected is None:
        with pytest.raises(InvalidRequest) as caught:
            parse(source)
        assert caught.value.code == "prompt_template_invalid"
        return
    template = parse(source)

    # THEN the braces are literal, the backslash is dropped and only unescaped variables are variables
    assert template.render({"name": "Ada"}) == expected
    assert "x" not in template.variables
    assert set(template.variables) <= {"name"}


def test_an_escaped_variable_is_not_a_variable() -> None:
    # GIVEN an escaped variable
    template = parse("\\{{name}}")

    # WHEN / THEN it needs no value
    assert template.variables == ()
    assert template.render({}) == "{{name}}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("C:\\path\\to\\file", "C:\\path\\to\\file"),
        ("a \\n b \\{ c \\} d", "a \\n b \\{ c \\} d"),
        ("trailing \\", "trailing \\"),
        ("\\\\{{name}}", "\\{{name}}"),  # only the backslash right before {{ is an escape
        ("{{name}}\\", "Ada\\"),
    ],
)
def test_a_backslash_anywhere_else_is_kept(source: str, expected: str) -> None:
    # GIVEN backslashes that are not right before {{ or }}
    # WHEN / THEN they are kept as is
    assert parse(source).render({"name": "Ada"}) == expected


@pytest.mark.parametrize(
    ("source", "problem", "where"),
    [
        ("Hello {{name", "unterminated '{{'", "line 1, column 7"),
        ("line one\n  two {{ name\nthree", "unterminated '{{'", "line 2, column 7"),
        ("{{a {{b}}", "unterminated '{{'", "line 1, column 1"),
        ("x\n{{ }}", "empty variable", "line 2, column 1"),
        ("{{}}", "empty variable", "line 1, column 1"),
        ("Hi {{ user.name }}", "invalid variable name 'user.name'", "line 1, column 4"),
        ("\n\n   {{ 1abc }}", "invalid variable name '1abc'", "line 3, column 4"),
        ("{{ a b }}", "invalid variable name 'a b'", "line 1, column 1"),
        ("{{{x}}}", "invalid variable name '{x'", "line 1, column 1"),
        ("{{ name|upper }}", "invalid variable name 'name|upper'", "line 1, column 1"),
        ("{{ " + "a" * 65 + " }}", "invalid variable name", "line 1, column 1"),
        ("done }} here", "unexpected '}}'", "line 1, column 6"),
        ("{{a}}\nb }}}", "unexpected '}}'", "line 2, column 3"),
    ],
)
def test_a_malformed_template_is_refused_with_its_position(source: str, problem: str, where: str) -> None:
    # GIVEN a malformed template
    # WHEN it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse(source)

    # THEN the error names the problem, its 1-based line and column, and the template param
    error = caught.value
    assert error.code == "prompt_template_invalid"
    assert error.param == "template"
    assert problem in error.message
    assert f"at {where}" in error.message


def test_a_name_of_64_characters_is_accepted() -> None:
    name = "v" * 64
    assert parse("{{" + name + "}}").variables == (name,)


def test_the_param_of_a_parse_error_is_the_one_given() -> None:
    # GIVEN a bad template parsed as some other field
    # WHEN / THEN the error names that field
    with pytest.raises(InvalidRequest) as caught:
        parse("{{", param="system")
    assert caught.value.param == "system"
    assert "of system" in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, "42"),
        (-1.5, "-1.5"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ([1, "two", None], '[1,"two",null]'),
        ({"a": 1, "b": [True]}, '{"a":1,"b":[true]}'),
        ({"ville": "Zürich"}, '{"ville":"Zürich"}'),
        ("", ""),
        ("  spaced  ", "  spaced  "),
    ],
)
def test_values_are_inserted_as_strings_or_compact_json(value: Any, expected: str) -> None:
    # GIVEN a template and a JSON value
    # WHEN it is rendered
    # THEN strings are inserted as is and anything else as compact JSON
    assert parse("<{{v}}>").render({"v": value}) == f"<{expected}>"


@pytest.mark.parametrize("value", [object(), {1, 2}, float("nan"), b"bytes"])
def test_a_value_that_is_not_json_is_refused(value: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse("{{v}}").render({"v": value})
    assert caught.value.code == "prompt_variable_invalid"
    assert caught.value.param == "variables"
    assert "variable v" in caught.value.message


@pytest.mark.parametrize("value", ["{{y}}", "\\{{y}}", "}}", "{{", {"k": "{{y}}"}])
def test_inserted_values_are_never_scanned_again(value: Any) -> None:
    # GIVEN a value that looks like template syntax
    template = parse("[{{ x }}]")

    # WHEN it is rendered, with a value for the variable it mentions too
    text = template.render({"x": value, "y": "SECRET"})

    # THEN the value is inserted literally
    assert "SECRET" not in text
    assert text == "[" + (value if isinstance(value, str) else '{"k":"{{y}}"}') + "]"


@pytest.mark.parametrize(
    "source",
    [
        "{{__import__('os')}}",
        "{{ __import__('os').system('id') }}",
        "{{ config.__class__ }}",
        "{{ x + 1 }}",
        "{{ x() }}",
        "{{ x[0] }}",
        "{{ 7*7 }}",
    ],
)
def test_nothing_is_ever_evaluated(source: str) -> None:
    # GIVEN expressions, calls, attribute access or filters
    # WHEN / THEN they are parse errors, not code
    with pytest.raises(InvalidRequest) as caught:
        parse(source)
    assert caught.value.code == "prompt_template_invalid"


def test_jinja_block_tags_without_double_braces_are_plain_text() -> None:
    assert parse("{% if x %}yes{% endif %}").render({}) == "{% if x %}yes{% endif %}"


def test_render_refuses_a_missing_value() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse("{{a}} {{b}}").render({"a": "1"})
    assert caught.value.code == "prompt_variable_missing"
    assert caught.value.param == "variables"
    assert "missing value for variable(s): b" in caught.value.message


def test_missing_variables_are_named() -> None:
    # GIVEN a template's variables and values that leave two of them out
    # WHEN they are checked
    with pytest.raises(InvalidRequest) as caught:
        check_variables(("name", "topic", "tone"), {"topic": "x"})

    # THEN the error names both, in template order
    assert caught.value.code == "prompt_variable_missing"
    assert caught.value.param == "variables"
    assert caught.value.message == "missing value for variable(s): name, tone"


def test_unknown_variables_are_named_with_the_ones_in_use() -> None:
    # GIVEN values with a name the template does not use
    # WHEN they are checked
    with pytest.raises(InvalidRequest) as caught:
        check_variables(("name", "tone"), {"name": "a", "tone": "b", "foo": 1})

    # THEN the error names it and the variables the version does use
    assert caught.value.code == "prompt_variable_unknown"
    assert caught.value.param == "variables"
    assert caught.value.message == "unknown variable(s): foo (this prompt version uses: name, tone)"


def test_missing_is_reported_first_and_mentions_the_unknown_ones() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_variables(["name", "tone"], {"Name": "a", "tone": "b"})
    assert caught.value.code == "prompt_variable_missing"
    assert "missing value for variable(s): name" in caught.value.message
    assert "unknown variable(s): Name" in caught.value.message
    assert "this prompt version uses: name, tone" in caught.value.message


def test_a_prompt_without_variables_refuses_any_value() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_variables((), {"x": 1})
    assert caught.value.code == "prompt_variable_unknown"
    assert "this prompt version uses no variables" in caught.value.message


def test_exact_values_pass_the_check() -> None:
    check_variables(("a", "b", "a"), {"b": None, "a": 0})
    check_variables((), {})


def test_variables_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_variables(("a",), ["a"])  # type: ignore[arg-type]
    assert caught.value.param == "variables"


def test_render_text_checks_both_ways() -> None:
    assert render_text("Hi {{ who }}!", {"who": "you"}) == "Hi you!"
    with pytest.raises(InvalidRequest) as caught:
        render_text("Hi {{ who }}!", {"who": "you", "extra": 1})
    assert caught.value.code == "prompt_variable_unknown"


CHAT = [
    {"role": "system", "content": "You are {{persona}}. Answer in {{ language }}."},
    {"role": "user", "name": "ada", "content": "{{question}} (in {{language}}, \\{{literally}})"},
    {"role": "assistant", "content": "No variables here."},
]


def test_the_variables_of_a_chat_prompt_span_every_message() -> None:
    # GIVEN a chat prompt whose messages share a variable
    # WHEN / THEN the union is listed once each, in first-appearance order
    assert variables_of_messages(CHAT) == ("persona", "language", "question")


def test_a_chat_prompt_renders_every_message_and_keeps_other_keys() -> None:
    # GIVEN a chat prompt and values for all its variables
    values = {"persona": "a tutor", "language": "French", "question": "Why?"}

    # WHEN it is rendered
    rendered = render_messages(CHAT, values)

    # THEN every content is filled, other keys are copied and the input is not changed
    assert rendered == [
        {"role": "system", "content": "You are a tutor. Answer in French."},
        {"role": "user", "name": "ada", "content": "Why? (in French, {{literally}})"},
        {"role": "assistant", "content": "No variables here."},
    ]
    assert CHAT[0]["content"] == "You are {{persona}}. Answer in {{ language }}."
    assert rendered[0] is not CHAT[0]


def test_a_chat_prompt_checks_values_against_all_messages() -> None:
    # GIVEN values missing one variable and adding one no message uses
    # WHEN / THEN both are named
    with pytest.raises(InvalidRequest) as caught:
        render_messages(CHAT, {"persona": "p", "language": "l", "typo": "q"})
    assert caught.value.code == "prompt_variable_missing"
    assert "missing value for variable(s): question" in caught.value.message
    assert "unknown variable(s): typo" in caught.value.message


def test_a_bad_message_is_named_by_its_index() -> None:
    # GIVEN a chat prompt whose second message is malformed
    messages = [{"role": "system", "content": "ok {{a}}"}, {"role": "user", "content": "hi\n  {{ b.c }}"}]

    # WHEN / THEN the parse error names that message's content and the position inside it
    for call in (lambda: variables_of_messages(messages), lambda: render_messages(messages, {"a": 1})):
        with pytest.raises(InvalidRequest) as caught:
            call()
        assert caught.value.code == "prompt_template_invalid"
        assert caught.value.param == "messages[1].content"
        assert "at line 2, column 3 of messages[1].content" in caught.value.message


def test_a_message_content_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        variables_of_messages([{"role": "user", "content": ["part"]}])  # type: ignore[dict-item]
    assert caught.value.param == "messages[0].content"


def test_a_template_is_immutable() -> None:
    template = parse("{{a}}")
    assert isinstance(template, Template)
    with pytest.raises(AttributeError):
        template.variables = ("b",)  # type: ignore[misc]


def test_text_without_braces_or_backslashes_round_trips_unchanged() -> None:
    # GIVEN many random texts made of anything but '{', '}' and '\'
    rng = random.Random(20240611)
    alphabet = "ab xyZ09_\n\t.,;:!?()[]<>$%#@'\"é漢😀-+=*/|~`^&"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))

        # WHEN it is parsed and rendered
        template = parse(text)

        # THEN it has no variables and renders to itself
        assert template.variables == ()
        assert template.render({}) == text


def test_text_with_variables_round_trips_around_them() -> None:
    # GIVEN random literal pieces joined by variables
    rng = random.Random(7)
    alphabet = "ab {}\n.\\"
    for _ in range(300):
        pieces = []
        for _ in range(rng.randint(1, 6)):
            piece = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
            # single braces only: collapse doubled braces and keep backslashes away from them
            while "{{" in piece or "}}" in piece or "\\{" in piece or "\\}" in piece:
                piece = piece.replace("{{", "{").replace("}}", "}").replace("\\{", "{").replace("\\}", "}")
            pieces.append(piece)
        # a piece ending in '{' or starting with '}' would touch the variable's braces; pad with a space
        pieces = [(" " + p if p.startswith("}") else p) + (" " if p.endswith(("{", "\\")) else "") for p in pieces]
        source = "{{v}}".join(pieces)

        # WHEN / THEN every variable is filled and every piece kept
        assert parse(source).render({"v": "V"}) == "V".join(pieces)


def test_a_large_template_parses_and_renders_fast() -> None:
    # GIVEN a 100,000-character template with 1,000 variables
    chunk = "x" * 88 + " {{ v%d }} "
    source = "".join(chunk % (i % 500) for i in range(1000))
    source += "y" * (100_000 - len(source))
    values = {f"v{i}": f"value {i}" for i in range(500)}

    # WHEN it is parsed and rendered (best of a few runs, to ignore a cold start)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        text = parse(source).render(values)
        best = min(best, time.perf_counter() - started)

    # THEN it takes well under 50 ms
    assert len(source) == 100_000
    assert "value 499" in text
    assert best < 0.05


def test_an_unterminated_brace_run_does_not_backtrack() -> None:
    # GIVEN pathological input: many openers and never a closer
    source = "{{ a " * 20_000

    # WHEN / THEN it fails fast
    started = time.perf_counter()
    with pytest.raises(InvalidRequest):
        parse(source)
    assert time.perf_counter() - started < 0.05
