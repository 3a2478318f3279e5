"""Where catalogue changes are recorded: the admin area's audit trail (`genai_core.admin.audit`) when it is present.

The operations service only needs `record(...)`; it takes any object that has it, so it does not depend on how the
admin area stores its trail, and works (recording nothing) where that module does not exist.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast

from genai_core.observability import logger


class AuditTrail(Protocol):
    def record(
        self, actor: str, action: str, target: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None: ...


class NoAuditTrail:
    """Records nothing: the admin area's trail is not installed."""

    def record(
        self, actor: str, action: str, target: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        logger.info("audit trail not installed; change not recorded", extra={"action": action, "target": target})


def default_audit_trail() -> AuditTrail:
    """The admin area's trail: a `get_audit_trail()`/`get_audit_service()` factory of the module, else the module's
    own `record` function, else nothing."""
    try:
        module = importlib.import_module("genai_core.admin.audit")
    except ImportError:
        return NoAuditTrail()
    for name in ("get_audit_trail", "get_audit_service"):
        factory = getattr(module, name, None)
        if callable(factory):
            return cast(AuditTrail, factory())
    if callable(getattr(module, "record", None)):
        return cast(AuditTrail, module)
    return NoAuditTrail()
