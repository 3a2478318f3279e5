"""PromptService's decisions that HTTP tests cannot force: losing the race for a version number."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from genai_core.errors import Conflict
from genai_core.prompts.models import CreatePromptRequest, PromptVersion
from genai_core.prompts.repository import Head
from genai_core.prompts.service import PromptService

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def head(number: int) -> Head:
    return Head(name="greeting", incarnation="i", latest_version=number, labels={}, created_at=NOW, updated_at=NOW)


class RacedRepository:
    """Every save loses to another writer `losses` times (the head moves on), then wins."""

    def __init__(self, losses: int) -> None:
        self.losses = losses
        self.head: Head | None = None
        self.saved: list[PromptVersion] = []

    def get_head(self, app_id: str, name: str) -> Head | None:
        return self.head

    def save_version(self, app_id: str, version: PromptVersion, previous: Head | None, labels: list[str]) -> Any:
        current = self.head.latest_version if self.head else 0
        if self.losses:
            self.losses -= 1
            self.head = head(current + 1)  # another writer took the next number
            return None
        assert previous == self.head and version.version == current + 1  # computed from the head as it is now
        self.saved.append(version)
        self.head = head(version.version)
        return self.head


def request() -> CreatePromptRequest:
    return CreatePromptRequest(name="greeting", template="Hi {{name}}")


def test_a_save_that_loses_the_race_takes_the_next_number() -> None:
    # GIVEN two other writers take versions 1 and 2 while we save
    repo = RacedRepository(losses=2)
    service = PromptService(repo, clock=lambda: NOW)  # type: ignore[arg-type]
    # WHEN we save
    resolved = service.create_version("app", request())
    # THEN our version is 3, saved once, and it is the latest
    assert resolved.version.version == 3
    assert [v.version for v in repo.saved] == [3]
    assert resolved.labels == ["latest"]


def test_a_save_that_keeps_losing_gives_up_with_a_409() -> None:
    service = PromptService(RacedRepository(losses=1000), clock=lambda: NOW, max_attempts=3)  # type: ignore[arg-type]
    with pytest.raises(Conflict) as caught:
        service.create_version("app", request())
    assert caught.value.code == "prompt_save_conflict"
