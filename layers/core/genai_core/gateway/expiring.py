"""What a container keeps of shared state for a while: read at most once per `max_age` seconds per key."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

MAX_KEYS = 10_000  # a container serving many apps must not grow without bound


class Expiring:
    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age, self.clock = max_age, clock
        self._values: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        """The value kept for `key`, or `load()` when there is none or it is `max_age` seconds old."""
        now = self.clock()
        cached = self._values.get(key)
        if cached is None or now - cached[0] >= self.max_age:
            cached = (now, load())
            if len(self._values) >= MAX_KEYS:
                self._values.clear()
            self._values[key] = cached
        return cached[1]

    def put(self, key: str, value: Any) -> None:
        self._values[key] = (self.clock(), value)

    def drop(self, key: str) -> None:
        self._values.pop(key, None)
