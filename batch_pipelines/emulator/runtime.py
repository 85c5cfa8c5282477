"""What both provider state models share: storage, prompt cache, clock, flags and locks."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

from .caching import PromptCache
from .config import EmulatorConfig
from .errors import ApiError
from .store import Store


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

    def check_create_rate_limit(self, provider: str) -> None:
        """The first `rate_limit_create` creates per provider answer 429 with `retry-after: 1`."""
        with self._config_lock:
            limit = self._config.rate_limit_create
            if limit <= 0:
                return
            self._creates[provider] += 1
            limited = self._creates[provider] <= limit
        if limited:
            raise ApiError(
                429,
                "Rate limit reached for batch creation (emulated by --rate-limit-create). "
                "Please try again in 1s.",
                type="requests",
                code="rate_limit_exceeded",
                headers={"retry-after": "1"},
            )

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
        with self._locks_guard:
            self._retrieves.clear()

    def close(self) -> None:
        self.store.close()
