"""The state machine definitions agree with template.yaml, and tools/check_asl.py catches each kind of defect."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tools.check_asl import check_template, main

ROOT = Path(__file__).resolve().parents[2]
LABEL = "sm.asl.json (PipelineStateMachine)"


def task(next_: str | None = None, *, table: str = "${TableName}", on_error: str = "Failed") -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {"TableName": table},
        "Retry": [{"ErrorEquals": ["DynamoDB.ThrottlingException"], "MaxAttempts": 3}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": on_error}],
    }
    if next_ is None:
        state["End"] = True
    else:
        state["Next"] = next_
    return state


def good_definition() -> dict[str, Any]:
    return {
        "StartAt": "Mark",
        "States": {
            "Mark": task("Done"),
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "Failed"},
        },
    }


def write_project(tmp_path: Path, definition: dict[str, Any] | str, substitutions: tuple[str, ...]) -> Path:
    """A template (with CloudFormation short tags) whose one state machine points at `definition`."""
    text = definition if isinstance(definition, str) else json.dumps(definition, indent=2)
    (tmp_path / "sm.asl.json").write_text(text)
    subs = "".join(f"\n        {name}: !Ref Table" for name in substitutions) or " {}"
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Table:\n"
        "    Type: AWS::DynamoDB::Table\n"
        "  PipelineStateMachine:\n"
        "    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n"
        "      DefinitionUri: sm.asl.json\n"
        f"      DefinitionSubstitutions:{subs}\n"
        "      Policies:\n"
        "        - DynamoDBCrudPolicy:\n"
        "            TableName: !Ref Table\n"
        "      Tags:\n"
        '        Name: !Sub "${AWS::StackName}-pipeline"\n'
    )
    return tmp_path / "template.yaml"


def problems_of(tmp_path: Path, definition: dict[str, Any] | str, substitutions: tuple[str, ...] = ("TableName",)):
    problems, _ = check_template(write_project(tmp_path, definition, substitutions))
    return problems


def test_the_repository_template_passes(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the repository's template and the definitions it points at
    # WHEN the checker runs as `python -m tools.check_asl template.yaml`
    status = main([str(ROOT / "template.yaml")])

    # THEN it exits 0 with one OK line naming the ingestion state machine
    out = capsys.readouterr()
    assert status == 0, out.err
    assert out.out.startswith("OK: ")
    assert "IngestStateMachine (statemachines/ingest.asl.json)" in out.out


def test_a_sound_definition_has_no_problems(tmp_path: Path) -> None:
    # GIVEN a definition whose every task retries and catches, and whose placeholder is substituted
    # WHEN it is checked
    # THEN nothing is reported (so each defect below is reported because of the defect alone)
    assert problems_of(tmp_path, good_definition()) == []


def test_dangling_next_is_reported(tmp_path: Path) -> None:
    # GIVEN a task whose Next names no state
    definition = good_definition()
    definition["States"]["Mark"]["Next"] = "Dnoe"

    # WHEN it is checked
    problems = problems_of(tmp_path, definition)

    # THEN the broken transition is named, and so is the state it no longer reaches
    assert problems == [
        f"{LABEL}: state 'Mark': Next 'Dnoe' names no state",
        f"{LABEL}: state 'Done': unreachable from StartAt",
    ]


def test_task_without_retry_is_reported(tmp_path: Path) -> None:
    # GIVEN a task without Retry
    definition = good_definition()
    del definition["States"]["Mark"]["Retry"]

    # WHEN it is checked
    # THEN the task is named
    assert problems_of(tmp_path, definition) == [f"{LABEL}: state 'Mark': Task has no Retry"]


def test_task_with_empty_catch_is_reported(tmp_path: Path) -> None:
    # GIVEN a task whose Catch is empty, so nothing leads to the Fail state any more
    definition = good_definition()
    definition["States"]["Mark"]["Catch"] = []

    # WHEN it is checked
    # THEN the task is named, and the orphaned Fail state too
    assert problems_of(tmp_path, definition) == [
        f"{LABEL}: state 'Mark': Task has no Catch",
        f"{LABEL}: state 'Failed': unreachable from StartAt",
    ]


def test_placeholder_without_substitution_is_reported(tmp_path: Path) -> None:
    # GIVEN a definition using ${TableName} and a template substituting nothing
    # WHEN it is checked
    problems = problems_of(tmp_path, good_definition(), substitutions=())

    # THEN the placeholder is named
    assert problems == [f"{LABEL}: placeholder ${{TableName}} has no DefinitionSubstitutions entry"]


def test_unused_substitution_is_reported(tmp_path: Path) -> None:
    # GIVEN a template substituting a name the definition never uses
    # WHEN it is checked
    problems = problems_of(tmp_path, good_definition(), substitutions=("TableName", "BucketName"))

    # THEN the unused entry is named
    assert problems == [f"{LABEL}: DefinitionSubstitutions entry BucketName is not used"]


def test_unreachable_state_is_reported(tmp_path: Path) -> None:
    # GIVEN a state nothing transitions to
    definition = good_definition()
    definition["States"]["Orphan"] = {"Type": "Pass", "End": True}

    # WHEN it is checked
    # THEN it is named
    assert problems_of(tmp_path, definition) == [f"{LABEL}: state 'Orphan': unreachable from StartAt"]


def test_dangling_choice_default_is_reported(tmp_path: Path) -> None:
    # GIVEN a Choice whose Default names no state
    definition = good_definition()
    definition["StartAt"] = "Route"
    definition["States"]["Route"] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.kind", "StringEquals": "pdf", "Next": "Mark"}],
        "Default": "Nowhere",
    }

    # WHEN it is checked
    # THEN the Default is named
    assert problems_of(tmp_path, definition) == [f"{LABEL}: state 'Route': Default 'Nowhere' names no state"]


def _batch_machine() -> dict[str, Any]:
    """A sub-machine (Map item processor / Parallel branch) with a dangling Next inside."""
    return {
        "StartAt": "Embed",
        "States": {
            "Embed": task("Indx", on_error="BatchFailed"),
            "Index": task(on_error="BatchFailed"),
            "BatchFailed": {"Type": "Fail"},
        },
    }


@pytest.mark.parametrize(
    ("kind", "nesting", "scope"),
    [
        ("Map", {"ItemProcessor": _batch_machine()}, "EachBatch > ItemProcessor"),
        ("Map", {"Iterator": _batch_machine()}, "EachBatch > Iterator"),
        ("Parallel", {"Branches": [copy.deepcopy(good_definition()), _batch_machine()]}, "EachBatch > Branches[1]"),
    ],
)
def test_dangling_next_inside_a_nested_machine_is_reported(
    tmp_path: Path, kind: str, nesting: dict[str, Any], scope: str
) -> None:
    # GIVEN a Map or Parallel state whose nested machine has a dangling Next
    definition = good_definition()
    definition["StartAt"] = "EachBatch"
    definition["States"]["EachBatch"] = {"Type": kind, **nesting, "Next": "Mark"}

    # WHEN it is checked
    problems = problems_of(tmp_path, definition)

    # THEN the nested state is named with its path from the top level
    assert problems == [
        f"{LABEL}: state '{scope} > Embed': Next 'Indx' names no state",
        f"{LABEL}: state '{scope} > Index': unreachable from StartAt",
    ]


@pytest.mark.parametrize("map_catches", [True, False])
def test_a_task_inside_a_map_may_leave_its_errors_to_the_maps_catch(tmp_path: Path, map_catches: bool) -> None:
    # GIVEN a Map whose inner task has Retry but no Catch, the Map itself with or without a Catch
    inner = task()
    del inner["Catch"]
    definition = good_definition()
    definition["StartAt"] = "EachBatch"
    definition["States"]["EachBatch"] = {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "Embed", "States": {"Embed": inner}},
        "Next": "Mark",
        **({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]} if map_catches else {}),
    }

    # WHEN it is checked
    problems = problems_of(tmp_path, definition)

    # THEN the Map's Catch covers the inner task; without it, the inner task is reported
    assert problems == (
        [] if map_catches else [f"{LABEL}: state 'EachBatch > ItemProcessor > Embed': Task has no Catch"]
    )


def test_invalid_json_is_reported(tmp_path: Path) -> None:
    # GIVEN a definition file that is not JSON
    # WHEN it is checked
    problems = problems_of(tmp_path, '{"StartAt": "Mark", "States": {', substitutions=())

    # THEN the file is named with the parse error's position
    assert problems == [f"{LABEL}: invalid JSON: Expecting property name enclosed in double quotes at line 1 column 32"]


def test_the_command_exits_1_and_lists_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a definition with two defects
    definition = good_definition()
    del definition["States"]["Mark"]["Retry"]
    template = write_project(tmp_path, definition, substitutions=("TableName", "BucketName"))

    # WHEN the command runs
    status = main([str(template)])

    # THEN it exits 1 and lists both, with the file and the state
    err = capsys.readouterr().err
    assert status == 1
    assert f"{LABEL}: state 'Mark': Task has no Retry" in err
    assert f"{LABEL}: DefinitionSubstitutions entry BucketName is not used" in err
    assert "2 problem(s)" in err
