"""Reading template.yaml: short tags, intrinsic functions, parameters, conditions and creation order."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from offline.cfn import Stack, TemplateError, load_template


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def stack_of(template: dict[str, Any], **overrides: str) -> Stack:
    template.setdefault("Resources", {})
    return Stack(
        template=template,
        root=Path("."),
        stack_name="genai-local",
        region="eu-west-1",
        account_id="123456789012",
        parameter_overrides=dict(overrides),
    )


def queue(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": props}


# -- loading ------------------------------------------------------------------------------------------------------


def test_short_tags_load_as_their_long_forms(tmp_path: Path) -> None:
    # GIVEN a template written with CloudFormation short tags
    path = write(
        tmp_path,
        """
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              TableName: !Sub "${AWS::StackName}-table"
              Arn: !GetAtt Queue.Arn
              Url: !GetAtt [Queue, QueueUrl]
              Name: !Ref Queue
              Mode: !If [IsProd, a, b]
              Parts: !Split [",", "a,b"]
              Joined: !Join ["-", [x, y]]
              First: !Select [0, [p, q]]
              Cond: !Condition IsProd
              Mapped: !FindInMap [M, k1, k2]
              Neg: !Not [!Condition IsProd]
              Encoded: !Base64 text
        """,
    )

    # WHEN it is loaded
    props = load_template(path)["Resources"]["Table"]["Properties"]

    # THEN each tag is its long form, GetAtt's dotted form split in two
    assert props == {
        "TableName": {"Fn::Sub": "${AWS::StackName}-table"},
        "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
        "Url": {"Fn::GetAtt": ["Queue", "QueueUrl"]},
        "Name": {"Ref": "Queue"},
        "Mode": {"Fn::If": ["IsProd", "a", "b"]},
        "Parts": {"Fn::Split": [",", "a,b"]},
        "Joined": {"Fn::Join": ["-", ["x", "y"]]},
        "First": {"Fn::Select": [0, ["p", "q"]]},
        "Cond": {"Condition": "IsProd"},
        "Mapped": {"Fn::FindInMap": ["M", "k1", "k2"]},
        "Neg": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Encoded": {"Fn::Base64": "text"},
    }


def test_a_sub_with_a_variables_map_loads_as_a_list(tmp_path: Path) -> None:
    # GIVEN !Sub with its two-element form
    path = write(
        tmp_path,
        """
        Resources:
          Q:
            Type: AWS::SQS::Queue
            Properties:
              QueueName: !Sub
                - "${Prefix}-q"
                - Prefix: !Ref AWS::StackName
        """,
    )

    # WHEN it is loaded
    props = load_template(path)["Resources"]["Q"]["Properties"]

    # THEN the text and the map are kept, the map's own tags converted
    assert props == {"QueueName": {"Fn::Sub": ["${Prefix}-q", {"Prefix": {"Ref": "AWS::StackName"}}]}}


def test_a_json_template_loads_too(tmp_path: Path) -> None:
    # GIVEN a template in JSON
    path = tmp_path / "template.json"
    path.write_text('{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}', encoding="utf-8")

    # WHEN / THEN it loads as is
    assert load_template(path) == {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}


def test_a_file_without_resources_is_not_a_template(tmp_path: Path) -> None:
    # GIVEN a YAML file that is not a CloudFormation template
    path = write(tmp_path, "name: something\n")

    # WHEN / THEN loading it fails, naming the file
    with pytest.raises(TemplateError, match="no Resources"):
        load_template(path)


# -- Ref, GetAtt and pseudo parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AWS::Region", "eu-west-1"),
        ("AWS::AccountId", "123456789012"),
        ("AWS::StackName", "genai-local"),
        ("AWS::StackId", "arn:aws:cloudformation:eu-west-1:123456789012:stack/genai-local/local"),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
    ],
)
def test_pseudo_parameters_resolve_to_the_local_stack(name: str, expected: str) -> None:
    # GIVEN a local stack in eu-west-1
    stack = stack_of({})

    # WHEN / THEN each pseudo parameter has its local value
    assert stack.resolve({"Ref": name}) == expected


def test_ref_of_a_created_resource_is_its_physical_id() -> None:
    # GIVEN a resource created locally under a physical name
    stack = stack_of({"Resources": {"Jobs": queue()}})
    stack.refs["Jobs"] = "http://localhost/123456789012/genai-local-jobs"

    # WHEN / THEN Ref gives that name
    assert stack.resolve({"Ref": "Jobs"}) == "http://localhost/123456789012/genai-local-jobs"


def test_ref_of_a_resource_not_created_locally_is_empty_with_a_warning() -> None:
    # GIVEN a resource of the template the runtime did not create
    stack = stack_of({"Resources": {"Alarm": {"Type": "AWS::CloudWatch::Alarm"}}})

    # WHEN it is referred to
    value = stack.resolve({"Ref": "Alarm"})

    # THEN it resolves to "" and says so
    assert value == ""
    assert stack.warnings == ["Ref Alarm: no local equivalent, resolved to an empty string"]


def test_ref_of_an_unknown_name_is_an_error() -> None:
    # GIVEN a Ref to nothing in the template
    # WHEN / THEN resolving it fails, naming it
    with pytest.raises(TemplateError, match="Typo"):
        stack_of({}).resolve({"Ref": "Typo"})


def test_get_att_gives_the_recorded_attribute_in_both_forms() -> None:
    # GIVEN a created queue with a known Arn
    stack = stack_of({"Resources": {"Jobs": queue()}})
    stack.attrs[("Jobs", "Arn")] = "arn:aws:sqs:eu-west-1:123456789012:jobs"

    # WHEN GetAtt is written as a list or as a dotted string
    # THEN both give the Arn
    assert stack.resolve({"Fn::GetAtt": ["Jobs", "Arn"]}) == "arn:aws:sqs:eu-west-1:123456789012:jobs"
    assert stack.resolve({"Fn::GetAtt": "Jobs.Arn"}) == "arn:aws:sqs:eu-west-1:123456789012:jobs"


def test_get_att_of_an_unknown_resource_is_an_error() -> None:
    # GIVEN a GetAtt of a resource not in the template
    # WHEN / THEN it fails, naming it
    with pytest.raises(TemplateError, match="Nothing"):
        stack_of({}).resolve({"Fn::GetAtt": ["Nothing", "Arn"]})


# -- Sub ----------------------------------------------------------------------------------------------------------


def test_sub_replaces_parameters_pseudo_parameters_and_resource_refs() -> None:
    # GIVEN a parameter, a created resource and a Sub using both and a pseudo parameter
    stack = stack_of({"Parameters": {"Stage": {"Type": "String", "Default": "dev"}}, "Resources": {"Jobs": queue()}})
    stack.refs["Jobs"] = "jobs-queue"

    # WHEN it is resolved
    value = stack.resolve({"Fn::Sub": "${AWS::StackName}/${Stage}/${Jobs}/${AWS::Region}"})

    # THEN every variable is replaced
    assert value == "genai-local/dev/jobs-queue/eu-west-1"


def test_sub_replaces_a_dotted_variable_with_the_attribute() -> None:
    # GIVEN a created function with an Arn
    stack = stack_of({"Resources": {"Fn": {"Type": "AWS::Serverless::Function"}}})
    stack.attrs[("Fn", "Arn")] = "arn:aws:lambda:eu-west-1:123456789012:function:fn"

    # WHEN ${Fn.Arn} is substituted
    # THEN it is the GetAtt value
    assert stack.resolve({"Fn::Sub": "invoke ${Fn.Arn}"}) == "invoke arn:aws:lambda:eu-west-1:123456789012:function:fn"


def test_sub_keeps_an_escaped_literal_as_written_without_the_bang() -> None:
    # GIVEN ${!Literal}, CloudFormation's escape for a literal ${...}
    stack = stack_of({})

    # WHEN / THEN it comes out as ${Literal}, not resolved
    assert stack.resolve({"Fn::Sub": "a ${!Literal} and ${AWS::Region}"}) == "a ${Literal} and eu-west-1"


def test_sub_with_a_variables_map_uses_the_map_first() -> None:
    # GIVEN a Sub whose variables map resolves its own intrinsics and shadows a parameter of the same name
    stack = stack_of({"Parameters": {"Stage": {"Type": "String", "Default": "dev"}}})
    node = {"Fn::Sub": ["${Name}-${Stage}", {"Name": {"Fn::Join": ["", ["a", "b"]]}, "Stage": "override"}]}

    # WHEN it is resolved
    # THEN the map's values are used
    assert stack.resolve(node) == "ab-override"


def test_sub_of_an_unknown_variable_is_an_error() -> None:
    # GIVEN a Sub naming nothing defined
    # WHEN / THEN it fails naming the variable
    with pytest.raises(TemplateError, match="Missing"):
        stack_of({}).resolve({"Fn::Sub": "x-${Missing}"})


# -- Join, Select, Split, FindInMap, Base64 --------------------------------------------------------------------------


def test_join_joins_resolved_items() -> None:
    # GIVEN a Join of literals and a pseudo parameter
    node = {"Fn::Join": [":", ["arn", "aws", {"Ref": "AWS::Region"}]]}

    # WHEN / THEN it is joined after resolving
    assert stack_of({}).resolve(node) == "arn:aws:eu-west-1"


def test_select_picks_by_index_from_a_split() -> None:
    # GIVEN Select 1 of a Split string
    node = {"Fn::Select": ["1", {"Fn::Split": ["/", "a/b/c"]}]}

    # WHEN / THEN the second part is picked
    assert stack_of({}).resolve(node) == "b"


def test_split_of_a_resolved_value() -> None:
    # GIVEN Split of a parameter value
    stack = stack_of({"Parameters": {"Azs": {"Type": "String", "Default": "a,b"}}})

    # WHEN / THEN the parameter's value is split
    assert stack.resolve({"Fn::Split": [",", {"Ref": "Azs"}]}) == ["a", "b"]


def test_find_in_map_reads_the_mapping() -> None:
    # GIVEN a Mappings section and a FindInMap keyed by a parameter
    stack = stack_of(
        {
            "Parameters": {"Stage": {"Type": "String", "Default": "prod"}},
            "Mappings": {"Sizes": {"dev": {"Memory": 512}, "prod": {"Memory": 2048}}},
        }
    )

    # WHEN / THEN the value for that key is returned
    assert stack.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}) == 2048


def test_find_in_map_without_a_value_is_an_error_naming_the_path() -> None:
    # GIVEN a FindInMap key absent from the mapping
    stack = stack_of({"Mappings": {"Sizes": {"dev": {"Memory": 512}}}})

    # WHEN / THEN it fails naming where it looked
    with pytest.raises(TemplateError, match="Sizes/test/Memory"):
        stack.resolve({"Fn::FindInMap": ["Sizes", "test", "Memory"]})


def test_base64_encodes_the_resolved_text() -> None:
    # GIVEN Base64 of a Sub
    # WHEN / THEN the substituted text is encoded
    assert stack_of({}).resolve({"Fn::Base64": {"Fn::Sub": "${AWS::Region}"}}) == "ZXUtd2VzdC0x"


# -- conditions ---------------------------------------------------------------------------------------------------


def conditional_template() -> dict[str, Any]:
    return {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev"},
            "VectorStore": {"Type": "String", "Default": "local"},
        },
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "IsNotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
            "UsesOpenSearch": {
                "Fn::Or": [
                    {"Fn::Equals": [{"Ref": "VectorStore"}, "serverless"]},
                    {"Fn::Equals": [{"Ref": "VectorStore"}, "managed"]},
                ]
            },
            "ProdOpenSearch": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "UsesOpenSearch"}]},
        },
        "Resources": {
            "Jobs": queue(),
            "Collection": {"Type": "AWS::OpenSearchServerless::Collection", "Condition": "UsesOpenSearch"},
        },
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {"IsProd": False, "IsNotProd": True, "UsesOpenSearch": False, "ProdOpenSearch": False}),
        (
            {"Stage": "prod", "VectorStore": "managed"},
            {"IsProd": True, "IsNotProd": False, "UsesOpenSearch": True, "ProdOpenSearch": True},
        ),
        (
            {"Stage": "prod"},
            {"IsProd": True, "IsNotProd": False, "UsesOpenSearch": False, "ProdOpenSearch": False},
        ),
        (
            {"VectorStore": "serverless"},
            {"IsProd": False, "IsNotProd": True, "UsesOpenSearch": True, "ProdOpenSearch": False},
        ),
    ],
)
def test_conditions_combine_equals_not_and_or_and_condition(overrides: dict[str, str], expected: dict) -> None:
    # GIVEN conditions built from parameters and from each other
    # WHEN the stack is built with these parameter values
    stack = stack_of(conditional_template(), **overrides)

    # THEN each condition has the expected truth value
    assert stack.conditions == expected


def test_if_picks_the_branch_of_its_condition() -> None:
    # GIVEN an If on IsProd
    node = {"Fn::If": ["IsProd", "big", "small"]}

    # WHEN / THEN dev gets the false branch and prod the true one
    assert stack_of(conditional_template()).resolve(node) == "small"
    assert stack_of(conditional_template(), Stage="prod").resolve(node) == "big"


def test_a_property_set_to_no_value_disappears() -> None:
    # GIVEN properties that are AWS::NoValue outside prod, in a map and in a list
    node = {
        "Name": "jobs",
        "KmsKey": {"Fn::If": ["IsProd", "alias/key", {"Ref": "AWS::NoValue"}]},
        "Tags": ["a", {"Fn::If": ["IsProd", "b", {"Ref": "AWS::NoValue"}]}, "c"],
    }

    # WHEN resolved in dev
    # THEN the property and the list item are gone
    assert stack_of(conditional_template()).resolve(node) == {"Name": "jobs", "Tags": ["a", "c"]}


def test_a_resource_with_a_false_condition_is_not_active() -> None:
    # GIVEN a resource conditional on UsesOpenSearch, which is false by default
    stack = stack_of(conditional_template())

    # WHEN / THEN it is inactive while the unconditional one is active
    assert not stack.is_active("Collection")
    assert stack.is_active("Jobs")


def test_a_resource_with_a_true_condition_is_active() -> None:
    # GIVEN the parameter that makes the condition true
    stack = stack_of(conditional_template(), VectorStore="serverless")

    # WHEN / THEN the conditional resource is active
    assert stack.is_active("Collection")


def test_an_unknown_condition_is_an_error() -> None:
    # GIVEN an If on a condition not declared
    # WHEN / THEN it fails naming it
    with pytest.raises(TemplateError, match="NoSuchCondition"):
        stack_of({}).resolve({"Fn::If": ["NoSuchCondition", 1, 2]})


# -- parameters ---------------------------------------------------------------------------------------------------


def test_parameters_take_their_defaults_unless_overridden() -> None:
    # GIVEN two parameters with defaults and one override
    template = {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev"},
            "Model": {"Type": "String", "Default": "offline-chat"},
        }
    }

    # WHEN the stack is built
    stack = stack_of(template, Model="claude")

    # THEN the override wins where given and the default elsewhere
    assert stack.parameters == {"Stage": "dev", "Model": "claude"}


def test_list_parameters_are_split_on_commas() -> None:
    # GIVEN a CommaDelimitedList parameter overridden with spaces around the items
    template = {"Parameters": {"Models": {"Type": "CommaDelimitedList", "Default": "a"}}}

    # WHEN the stack is built
    stack = stack_of(template, Models="x, y ,z")

    # THEN it is a list of trimmed items, joinable again
    assert stack.parameters["Models"] == ["x", "y", "z"]
    assert stack.resolve({"Fn::Join": ["|", {"Ref": "Models"}]}) == "x|y|z"


def test_an_unknown_parameter_override_is_an_error_naming_it() -> None:
    # GIVEN an override for a parameter the template does not declare
    template = {"Parameters": {"Stage": {"Type": "String", "Default": "dev"}}}

    # WHEN / THEN building the stack fails naming the typo
    with pytest.raises(TemplateError, match=r"unknown parameter override.*Stgae"):
        stack_of(template, Stgae="prod")


def test_a_parameter_without_default_or_value_is_an_error_naming_it() -> None:
    # GIVEN a parameter with no default and no override
    template = {"Parameters": {"AlarmEmail": {"Type": "String"}}}

    # WHEN / THEN building the stack fails naming the parameter
    with pytest.raises(TemplateError, match="AlarmEmail has no default"):
        stack_of(template)


def test_a_parameter_without_default_accepts_an_override() -> None:
    # GIVEN a parameter with no default, given a value
    template = {"Parameters": {"AlarmEmail": {"Type": "String"}}}

    # WHEN / THEN the stack is built with it
    assert stack_of(template, AlarmEmail="ops@example.com").resolve({"Ref": "AlarmEmail"}) == "ops@example.com"


# -- creation order -----------------------------------------------------------------------------------------------


def test_resources_come_after_those_they_refer_to() -> None:
    # GIVEN a function referring to a queue (Sub) and a table (GetAtt), the queue to its DLQ (GetAtt), declared
    # in the reverse order
    template = {
        "Resources": {
            "Worker": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Environment": {
                        "Variables": {"QUEUE": {"Fn::Sub": "${Jobs}"}, "TABLE": {"Fn::GetAtt": ["Table", "Arn"]}}
                    }
                },
            },
            "Jobs": queue(RedrivePolicy={"deadLetterTargetArn": {"Fn::GetAtt": "JobsDLQ.Arn"}}),
            "Table": {"Type": "AWS::DynamoDB::Table"},
            "JobsDLQ": queue(),
        }
    }

    # WHEN the creation order is computed
    order = stack_of(template).creation_order()

    # THEN every resource comes after what it refers to
    assert sorted(order) == ["Jobs", "JobsDLQ", "Table", "Worker"]
    assert order.index("JobsDLQ") < order.index("Jobs") < order.index("Worker")
    assert order.index("Table") < order.index("Worker")


def test_depends_on_orders_resources_as_a_string_or_a_list() -> None:
    # GIVEN explicit DependsOn without any Ref
    template = {
        "Resources": {
            "C": {"Type": "T", "DependsOn": ["A", "B"]},
            "B": {"Type": "T", "DependsOn": "A"},
            "A": {"Type": "T"},
        }
    }

    # WHEN / THEN the order follows DependsOn
    assert stack_of(template).creation_order() == ["A", "B", "C"]


def test_sub_variables_map_and_parameters_do_not_count_as_dependencies() -> None:
    # GIVEN a Sub naming a pseudo parameter, a parameter, an escaped literal and (through its map) a resource
    template = {
        "Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
        "Resources": {
            "Fn": {
                "Type": "T",
                "Properties": {
                    "X": {"Fn::Sub": ["${AWS::Region}-${Stage}-${!Lit}-${Q}", {"Q": {"Ref": "Queue"}}]},
                },
            },
            "Queue": queue(),
            "Other": queue(),
        },
    }

    # WHEN the dependencies are read
    # THEN only the resource the map refers to is one
    assert stack_of(template).dependencies("Fn") == {"Queue"}


def test_inactive_resources_are_left_out_of_the_creation_order() -> None:
    # GIVEN a resource whose condition is false
    # WHEN the creation order is computed
    order = stack_of(conditional_template()).creation_order()

    # THEN it is not created
    assert order == ["Jobs"]


def test_a_circular_reference_is_an_error_naming_the_cycle() -> None:
    # GIVEN two resources referring to each other
    template = {
        "Resources": {
            "A": queue(X={"Ref": "B"}),
            "B": queue(X={"Fn::GetAtt": ["A", "Arn"]}),
        }
    }

    # WHEN / THEN ordering them fails, showing the cycle
    with pytest.raises(TemplateError, match="circular reference: A -> B -> A"):
        stack_of(template).creation_order()


def test_a_self_reference_is_not_a_cycle() -> None:
    # GIVEN a resource whose properties mention its own name (e.g. a policy on itself)
    template = {"Resources": {"A": queue(Policy={"Ref": "A"})}}

    # WHEN / THEN it is simply created
    assert stack_of(template).creation_order() == ["A"]


def test_of_type_lists_active_resources_of_the_given_types() -> None:
    # GIVEN queues, a table and an inactive collection
    template = conditional_template()
    template["Resources"]["Table"] = {"Type": "AWS::DynamoDB::Table"}
    stack = stack_of(template)

    # WHEN / THEN only the active resources of the asked types are listed
    assert [name for name, _ in stack.of_type("AWS::SQS::Queue", "AWS::OpenSearchServerless::Collection")] == ["Jobs"]
