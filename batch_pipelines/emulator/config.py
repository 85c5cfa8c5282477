"""Emulator flags (fault injection, timing) and where the emulator keeps its state."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

HOME_ENV = "BATCH_PIPELINES_HOME"

RATE_FIELDS = (
    "line_error_rate",
    "malformed_rate",
    "expire_rate",
    "fail_validation_rate",
    "server_errors_rate",
)


def default_home() -> Path:
    """`$BATCH_PIPELINES_HOME/emulator`, with `BATCH_PIPELINES_HOME` defaulting to `./.batch_pipelines`."""
    return Path(os.environ.get(HOME_ENV) or ".batch_pipelines").expanduser().resolve() / "emulator"


@dataclass(frozen=True)
class EmulatorConfig:
    """Run-time flags. Every fault is decided by hashing `seed` with stable identifiers.

    - `complete_after`: seconds a batch takes from creation to its terminal state (0: done by the
      first retrieve). Snapshotted into each batch when it is created.
    - `line_error_rate`: share of lines that fail with a provider error (OpenAI: error-file line
      with `response.status_code` 500 or 429; Anthropic: `errored` result, api_error/overloaded).
    - `malformed_rate`: share of successful lines whose content is not valid against the
      requested schema (broken JSON, a missing required key, an out-of-range value, a bad enum).
    - `expire_rate`: share of batches that expire with partial results.
    - `fail_validation_rate`: share of creates that fail validation (OpenAI: the batch goes to
      `failed` with `errors`; Anthropic: the create answers 400 invalid_request_error).
    - `rate_limit_create`: the first N batch creates (per provider, counted since the flag was
      last set) answer 429 with `retry-after: 1`.
    - `server_errors_rate`: share of batch retrieves that answer 500.
    - `seed`: the seed every fault decision is hashed with.
    """

    complete_after: float = 0.0
    line_error_rate: float = 0.0
    malformed_rate: float = 0.0
    expire_rate: float = 0.0
    fail_validation_rate: float = 0.0
    rate_limit_create: int = 0
    server_errors_rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in RATE_FIELDS:
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
            object.__setattr__(self, name, value)
        complete_after = float(self.complete_after)
        if complete_after < 0:
            raise ValueError(f"complete_after must be >= 0, got {complete_after}")
        object.__setattr__(self, "complete_after", complete_after)
        rate_limit = int(self.rate_limit_create)
        if rate_limit < 0:
            raise ValueError(f"rate_limit_create must be >= 0, got {rate_limit}")
        object.__setattr__(self, "rate_limit_create", rate_limit)
        object.__setattr__(self, "seed", int(self.seed))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> EmulatorConfig:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown emulator flag(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmulatorConfig:
        return cls().replace(**data)
