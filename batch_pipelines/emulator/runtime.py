"""What both provider state models share: storage, prompt cache, clock, flags and locks."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import answers
from .caching import PromptCache
from .config import EmulatorConfig
from .errors import ApiError, LostResponse
from .store import Store

# The per-line settings a batch keeps from the flags in force when it was created.
BATCH_SETTINGS = (
    "complete_after",
    "seed",
    "line_error_rate",
    "malformed_rate",
    "invalid_request_rate",
    "timeout_rate",
    "ordered_results",
)


class Runtime:
    def __init__(self, root: Path, config: EmulatorConfig | None = None) -> None:
        self.store = Store(root)
        self._config = config or EmulatorConfig()
        self._config_lock = threading.Lock()
        self._offset = float(self.store.get_meta("clock_offset", "0") or 0)
        self.cache = PromptCache(self.clock, self.store.load_cache, self.store.save_cache)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._creates: dict[str, int] = defaultdict(int)
        self._create_attempts: dict[str, int] = defaultdict(int)
        self._retrieves: dict[str, int] = defaultdict(int)

    # -- time

    def clock(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the emulator's clock forward (persisted); returns the total offset."""
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._config_lock:
            self._offset += float(seconds)
            self.store.set_meta("clock_offset", repr(self._offset))
            return self._offset

    # -- flags

    @property
    def config(self) -> EmulatorConfig:
        return self._config

    def set_config(self, **changes: object) -> EmulatorConfig:
        with self._config_lock:
            self._config = self._config.replace(**changes)
            if "rate_limit_create" in changes:
                self._creates.clear()
            return self._config

    def batch_settings(self) -> dict[str, Any]:
        """The flags a new batch snapshots (later flag changes affect later batches only)."""
        config = self._config
        return {name: getattr(config, name) for name in BATCH_SETTINGS}

    def check_create_faults(self, provider: str) -> None:
        """HTTP faults of a batch create, before the body is looked at: the first
        `rate_limit_create` creates answer 429 with `retry-after`, and (Anthropic) a share
        `overloaded_rate` of create attempts answers 529 `overloaded_error`."""
        with self._config_lock:
            config = self._config
            self._create_attempts[provider] += 1
            attempt = self._create_attempts[provider]
            limited = False
            if config.rate_limit_create > 0:
                self._creates[provider] += 1
                limited = self._creates[provider] <= config.rate_limit_create
        if limited:
            wait = config.retry_after_header()
            raise ApiError(
                429,
                "Rate limit reached for batch creation (emulated by --rate-limit-create). "
                f"Please try again in {wait}s.",
                type="requests",
                code="rate_limit_exceeded",
                headers={"retry-after": wait},
            )
        if provider == "anthropic" and answers.chance(
            config.overloaded_rate, config.seed, "overloaded", provider, attempt
        ):
            raise ApiError(529, "Overloaded (emulated by --overloaded-rate)")

    def lose_create_response(self, provider: str, seq: int) -> None:
        """After a batch was created: a share `lose_create_response_rate` of the answers is lost
        on the way back (the client sees a gateway's 502; the batch exists and runs)."""
        config = self._config
        if answers.chance(
            config.lose_create_response_rate, config.seed, "lose_create", provider, seq
        ):
            raise LostResponse()

    def create_lock(self, provider: str) -> threading.Lock:
        """Held from an account-limit check to the insert that the check admitted."""
        return self.batch_lock(f"create:{provider}")

    def next_retrieve(self, provider: str, batch_id: str) -> int:
        with self._locks_guard:
            key = f"{provider}:{batch_id}"
            self._retrieves[key] += 1
            return self._retrieves[key]

    # -- per-batch locks (materialization happens once, under the batch's lock)

    def batch_lock(self, batch_id: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(batch_id)
            if lock is None:
                lock = self._locks[batch_id] = threading.Lock()
            return lock

    def reset(self) -> None:
        self.store.reset()
        self.cache.clear()
        with self._config_lock:
            self._offset = 0.0
            self._creates.clear()
            self._create_attempts.clear()
        with self._locks_guard:
            self._retrieves.clear()

    def close(self) -> None:
        self.store.close()
