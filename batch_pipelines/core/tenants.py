"""A tenant as the workflows and the engine see it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TenantContext:
    """A tenant as the workflows see it (a row of `tenants`)."""

    tenant_id: str
    name: str
    vertical: str
    tier: str
    policy: Mapping[str, Any]
    brand: Mapping[str, Any]

    @property
    def isolated(self) -> bool:
        return bool(self.policy.get("isolated"))

    @property
    def redact_pii(self) -> bool:
        return bool(self.policy.get("redact_pii"))
