"""Where catalogue changes are recorded: the admin area's audit trail (`genai_core.admin.audit`).

The operations service needs only `record(...)` and takes any object that has it, so its tests pass a list.
"""

from __future__ import annotations

from typing import Any, Protocol


class AuditTrail(Protocol):
    def record(
        self, actor: str, action: str, target: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> object: ...


def default_audit_trail() -> AuditTrail:
    from genai_core.admin.audit import get_audit_log

    return get_audit_log()
