"""The emulator's state model, independent of HTTP: `EmulatorState` and `received_requests`.

Everything lives under one directory (`$BATCH_PIPELINES_HOME/emulator/` by default) and survives
a restart. Tests read what the pipeline actually sent with `received_requests(home)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .anthropic_state import AnthropicState
from .config import EmulatorConfig, default_home
from .openai_state import OpenAIState
from .runtime import Runtime
from .store import Store, iter_jsonl


@dataclass(frozen=True)
class ReceivedRequest:
    """One request body that reached the emulator.

    - provider: "openai" | "anthropic"
    - endpoint: "/v1/chat/completions", "/v1/embeddings", "/v1/messages" (a batch line's `url`
      for OpenAI batch input lines, "/v1/messages" for Anthropic batch requests)
    - source: "openai_file" (a line of an uploaded batch file), "anthropic_batch" (one request of a
      Message Batch create, accepted or rejected), or "sync" (a synchronous call)
    - body: the request body (OpenAI: the line's `body`; Anthropic batch: the request's
      `params`); None when the line was not valid JSON (then `raw` holds it)
    - custom_id, file_id, batch_id: where it came from, when known
    """

    provider: str
    endpoint: str
    source: str
    body: Any
    custom_id: str | None = None
    file_id: str | None = None
    batch_id: str | None = None
    raw: bytes | None = None


class EmulatorState:
    """Both providers' state on one home directory."""

    def __init__(
        self, home: Path | str | None = None, config: EmulatorConfig | None = None
    ) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.runtime = Runtime(self.home, config)
        self.openai = OpenAIState(self.runtime)
        self.anthropic = AnthropicState(self.runtime)

    @property
    def config(self) -> EmulatorConfig:
        return self.runtime.config

    def set_config(self, **flags: Any) -> EmulatorConfig:
        return self.runtime.set_config(**flags)

    def advance(self, seconds: float) -> float:
        return self.runtime.advance(seconds)

    def reset(self) -> None:
        self.runtime.reset()

    def close(self) -> None:
        self.runtime.close()

    def log_sync_request(self, provider: str, endpoint: str, body: Any) -> None:
        self.runtime.store.log_sync_request(
            {"provider": provider, "endpoint": endpoint, "body": body}
        )

    def received_requests(self, provider: str | None = None) -> Iterator[ReceivedRequest]:
        return _received(self.runtime.store, provider)


def received_requests(
    home: Path | str | None = None, provider: str | None = None
) -> Iterator[ReceivedRequest]:
    """Every request body the emulator at `home` received (default: the default home).

    Safe to call while a server runs on the same home (sqlite WAL).
    """
    store = Store(Path(home) if home is not None else default_home())
    try:
        yield from _received(store, provider)
    finally:
        store.close()


def _received(store: Store, provider: str | None) -> Iterator[ReceivedRequest]:
    if provider in (None, "openai"):
        rows = store.all("SELECT id FROM oa_files WHERE purpose = 'batch' ORDER BY seq")
        for (file_id,) in rows:
            path = store.file_path(file_id)
            if not path.exists():
                continue
            for raw in iter_jsonl(path):
                try:
                    line = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    yield ReceivedRequest(
                        "openai", "", "openai_file", None, file_id=file_id, raw=raw
                    )
                    continue
                if not isinstance(line, dict):
                    yield ReceivedRequest(
                        "openai", "", "openai_file", line, file_id=file_id, raw=raw
                    )
                    continue
                yield ReceivedRequest(
                    "openai",
                    str(line.get("url", "")),
                    "openai_file",
                    line.get("body"),
                    custom_id=line.get("custom_id"),
                    file_id=file_id,
                )
    if provider in (None, "anthropic"):
        for path in sorted(store.anthropic_requests_dir.glob("*.jsonl")):
            stem = path.stem.split("-", 1)[1] if "-" in path.stem else ""
            batch_id = stem if stem.startswith("msgbatch_") else None
            for raw in iter_jsonl(path):
                item = orjson.loads(raw)
                params = item.get("params") if isinstance(item, dict) else None
                custom_id = item.get("custom_id") if isinstance(item, dict) else None
                yield ReceivedRequest(
                    "anthropic",
                    "/v1/messages",
                    "anthropic_batch",
                    params,
                    custom_id=custom_id,
                    batch_id=batch_id,
                )
    if store.sync_log_path.exists():
        for raw in iter_jsonl(store.sync_log_path):
            record = orjson.loads(raw)
            if provider in (None, record["provider"]):
                yield ReceivedRequest(
                    record["provider"], record["endpoint"], "sync", record["body"]
                )
