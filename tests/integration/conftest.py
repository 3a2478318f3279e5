"""Integration helpers: handlers loaded from functions/, tables created from template.yaml's own definitions."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType
from typing import Any

import boto3

from offline.cfn import Stack, load_template
from offline.provision import Provisioner
from tests.conftest import ROOT


def load_function(folder: str) -> ModuleType:
    """Import functions/<folder>/app.py under a unique module name (every function's module is called app)."""
    name = f"function_{folder}_app"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / folder / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def create_from_template(*logical_ids: str, region: str = "us-east-1") -> dict[str, str]:
    """Create template resources (e.g. a table) in the active moto mock; returns logical id -> physical name."""
    stack = Stack(load_template(ROOT / "template.yaml"), ROOT, "genai-test", region, "123456789012")
    provisioner = Provisioner(stack, lambda service: boto3.client(service, region_name=region))
    for logical_id in logical_ids:
        assert provisioner.create(logical_id), logical_id
    return {logical_id: stack.refs[logical_id] for logical_id in logical_ids}


def event(name: str, **changes: Any) -> dict[str, Any]:
    """An events/<name>.json sample event, with top-level fields replaced."""
    data = json.loads((ROOT / "events" / f"{name}.json").read_text())
    data.update(changes)
    return data


class Context:
    aws_request_id = "test-request"
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
