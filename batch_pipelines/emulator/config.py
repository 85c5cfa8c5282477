"""Emulator flags (fault injection, timing, account limits) and where the emulator keeps its state."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

HOME_ENV = "BATCH_PIPELINES_HOME"

RATE_FIELDS = (
    "line_error_rate",
    "malformed_rate",
    "expire_rate",
    "fail_validation_rate",
    "server_errors_rate",
    "invalid_request_rate",
    "timeout_rate",
    "lose_create_response_rate",
    "overloaded_rate",
)
COUNT_FIELDS = ("rate_limit_create", "anthropic_queue_limit")


def default_home() -> Path:
    """`$BATCH_PIPELINES_HOME/emulator`, with `BATCH_PIPELINES_HOME` defaulting to `./.batch_pipelines`."""
    return Path(os.environ.get(HOME_ENV) or ".batch_pipelines").expanduser().resolve() / "emulator"


def parse_token_limits(value: Mapping[str, Any] | Iterable[str] | None) -> dict[str, int]:
    """`{"gpt-4o-mini": 2000000}` or `["gpt-4o-mini=2000000", ...]` (the command line's form)."""
    if value is None:
        return {}
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, str):
        raise ValueError(f"enqueued_token_limit: expected MODEL=TOKENS pairs, got {value!r}")
    else:
        for item in value:
            model, sep, tokens = str(item).partition("=")
            if not sep or not model:
                raise ValueError(f"enqueued_token_limit: expected MODEL=TOKENS, got {item!r}")
            pairs.append((model, tokens))
    limits: dict[str, int] = {}
    for model, tokens in pairs:
        try:
            number = int(str(tokens).replace(",", "").replace("_", ""))
        except ValueError as exc:
            raise ValueError(f"enqueued_token_limit: {model}={tokens!r} is not a number") from exc
        if number < 0:
            raise ValueError(f"enqueued_token_limit: {model}={number} must be >= 0")
        limits[str(model)] = number
    return limits


@dataclass(frozen=True)
class EmulatorConfig:
    """Run-time flags. Every fault is decided by hashing `seed` with stable identifiers.

    Timing and faults of the batch services:
    - `complete_after`: seconds a batch takes from creation to its terminal state (0: done by the
      first retrieve). Snapshotted into each batch when it is created.
    - `line_error_rate`: share of lines that fail with a transient provider error (OpenAI:
      error-file line with `response.status_code` 500 or 429; Anthropic: `errored` result,
      `api_error` / `overloaded_error`).
    - `invalid_request_rate`: share of lines the service rejects as invalid when the batch runs
      (OpenAI: error-file line with status 400 `invalid_request_error`; Anthropic: `errored`
      result with `invalid_request_error`), on top of the lines that really are invalid.
    - `timeout_rate`: share of OpenAI lines that end as `request_timeout` (response null).
    - `malformed_rate`: share of successful lines whose content is not valid against the
      requested schema (broken JSON, a missing required key, an out-of-range value, a bad enum).
    - `expire_rate`: share of batches that expire with partial results.
    - `fail_validation_rate`: share of OpenAI batches that go `failed` as a whole with
      `token_limit_exceeded`, as when other work of the organisation holds the limit (Anthropic
      has no failed state: no effect there).
    - `ordered_results`: results in input order (for debugging only; both services say result
      order is not guaranteed, and by default the emulator shuffles them by `seed`).
    Account limits (tier-dependent, so off unless configured):
    - `enqueued_token_limit`: {model as the request names it: tokens}; an OpenAI create that
      would take the model's live batches past it is accepted, then `failed` with
      `token_limit_exceeded`.
    - `anthropic_queue_limit`: at most N requests of unfinished Message Batches; a create past it
      answers 429 `rate_limit_error` (0: no limit).
    HTTP faults at create:
    - `rate_limit_create`: the first N batch creates (per provider, counted since the flag was
      last set) answer 429 with `retry-after: <retry_after>`.
    - `retry_after`: seconds the 429s ask the client to wait (also the queue-limit 429).
    - `overloaded_rate`: share of Anthropic batch creates that answer 529 `overloaded_error`.
    - `lose_create_response_rate`: share of batch creates whose batch is created (and runs, and
      is billed) but whose answer is lost: the client gets a 502 from the gateway.
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
    invalid_request_rate: float = 0.0
    timeout_rate: float = 0.0
    ordered_results: bool = False
    enqueued_token_limit: dict[str, int] = field(default_factory=dict)
    anthropic_queue_limit: int = 0
    lose_create_response_rate: float = 0.0
    retry_after: float = 1.0
    overloaded_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in RATE_FIELDS:
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
            object.__setattr__(self, name, value)
        for name in ("complete_after", "retry_after"):
            value = float(getattr(self, name))
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
            object.__setattr__(self, name, value)
        for name in COUNT_FIELDS:
            count = int(getattr(self, name))
            if count < 0:
                raise ValueError(f"{name} must be >= 0, got {count}")
            object.__setattr__(self, name, count)
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "ordered_results", bool(self.ordered_results))
        object.__setattr__(
            self, "enqueued_token_limit", parse_token_limits(self.enqueued_token_limit)
        )

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

    def retry_after_header(self) -> str:
        """`retry-after` in whole seconds when it is whole (the form the services send)."""
        seconds = self.retry_after
        return str(int(seconds)) if seconds == int(seconds) else repr(seconds)
