"""Simulated prompt caching for both providers.

OpenAI (automatic caching):
- A prompt is cut at message boundaries: a head segment (canonical JSON of `tools` and
  `response_format`, when present), then each message. Each boundary's prefix is keyed by
  (model, `prompt_cache_key`, the hash of everything before the boundary).
- After a request, every boundary prefix of at least the model's minimum (1,024 tokens for
  every OpenAI model, `core.models`) is written to the cache, for one hour
  after its last use (24 h when the request says `prompt_cache_retention: "24h"`).
- A request reads the longest cached boundary prefix of at least the minimum and reports
  `prompt_tokens_details.cached_tokens` = that prefix's tokens rounded down to a multiple of 128.
  `prompt_tokens` includes the cached tokens.
- `cache_write_tokens` is reported (non-zero) only for models that bill cache writes
  (`gpt-5.6*`, `gpt-6*`): the written prefix, rounded down to 128, minus what was read.

Anthropic (explicit `cache_control`):
- Blocks in prompt order: tools, system blocks, message content blocks. A block with
  `cache_control: {type: "ephemeral", ttl: "5m" | "1h"}` (default 5m) is a breakpoint; a top-level
  `cache_control` marks the last block. At most 4 breakpoints (more is a 400).
- The minimum cacheable prefix is the model's, from the one table in `core.models` (4,096 for
  Haiku 4.5 and Opus 4.5/4.6, 1,024 for Sonnet 4.5, ...). Shorter breakpoints are silently not
  cached: both cache counters stay 0 and no error is raised.
- Read: for each breakpoint (last first), the emulator looks back up to 20 blocks for a cached
  prefix; the first hit gives `cache_read_input_tokens` and refreshes that entry's TTL.
- Write: every breakpoint after the hit that meets the minimum is written with its TTL;
  `cache_creation_input_tokens` is the span from the hit (or 0) to the last written breakpoint,
  split into `cache_creation.ephemeral_5m_input_tokens` / `ephemeral_1h_input_tokens` by the
  TTL of the breakpoint that closes each span.
- `input_tokens` excludes cache reads and writes (total prompt = input + creation + read).

Both: requests inside one batch read the cache as it was when the batch started processing and
do not see each other's writes; the batch's writes become visible when it ends. Synchronous calls
read and write immediately. The cache is persisted in the emulator's sqlite file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batch_pipelines.core.models import min_cacheable_tokens

from .answers import canonical, digest, json_tokens, tokens

# OpenAI's prompt-caching guide: every model caches prompts from 1,024 tokens (models the table
# does not list included). An Anthropic model the table lacks is refused by validation before it
# gets here; were one to reach the cache, the highest documented minimum keeps it from caching
# more than production would.
OPENAI_DEFAULT_MIN_CACHED = 1024
ANTHROPIC_FALLBACK_MIN_CACHED = 4096
OPENAI_TTL = 3600.0
OPENAI_TTL_EXTENDED = 86400.0
ANTHROPIC_TTLS = {"5m": 300.0, "1h": 3600.0}
ANTHROPIC_MAX_BREAKPOINTS = 4
ANTHROPIC_LOOKBACK = 20


def openai_min_cacheable(model: str) -> int:
    return min_cacheable_tokens(model) or OPENAI_DEFAULT_MIN_CACHED


def anthropic_min_cacheable(model: str) -> int:
    return min_cacheable_tokens(model) or ANTHROPIC_FALLBACK_MIN_CACHED


def openai_bills_cache_writes(model: str) -> bool:
    return model.startswith(("gpt-5.6", "gpt-6"))


class PromptCache:
    """Cache entries: key -> expiry time. Persisted through `save`/`load` callbacks."""

    def __init__(
        self,
        clock: Callable[[], float],
        load: Callable[[], list[tuple[bytes, float, float]]] | None = None,
        save: Callable[[list[tuple[bytes, float, float]]], None] | None = None,
    ) -> None:
        self._clock = clock
        self._save = save
        self._lock = threading.Lock()
        self._entries: dict[bytes, tuple[float, float]] = {}
        if load is not None:
            now = clock()
            for key, expires_at, ttl in load():
                if expires_at > now:
                    self._entries[bytes(key)] = (expires_at, ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def session(self) -> CacheSession:
        return CacheSession(self)

    def _hit(self, key: bytes, now: float) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry[0] > now

    def _commit(self, writes: dict[bytes, float], touches: set[bytes], now: float) -> None:
        if not writes and not touches:
            return
        rows: list[tuple[bytes, float, float]] = []
        with self._lock:
            for key in touches:
                entry = self._entries.get(key)
                if entry is not None and entry[0] > now:
                    self._entries[key] = (now + entry[1], entry[1])
                    rows.append((key, now + entry[1], entry[1]))
            for key, ttl in writes.items():
                entry = self._entries.get(key)
                ttl = max(ttl, entry[1]) if entry is not None and entry[0] > now else ttl
                self._entries[key] = (now + ttl, ttl)
                rows.append((key, now + ttl, ttl))
            if len(self._entries) > 200_000:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        if self._save is not None and rows:
            self._save(rows)


@dataclass
class CacheSession:
    """Reads see only committed entries; writes and TTL refreshes wait for `commit()`.

    A synchronous call uses one session per request; a batch uses one session for all its lines,
    committed when the batch ends, so its requests do not see each other's writes.
    """

    cache: PromptCache
    writes: dict[bytes, float] = field(default_factory=dict)
    touches: set[bytes] = field(default_factory=set)

    def hit(self, key: bytes) -> bool:
        if self.cache._hit(key, self.cache._clock()):
            self.touches.add(key)
            return True
        return False

    def write(self, key: bytes, ttl: float) -> None:
        self.writes[key] = max(ttl, self.writes.get(key, 0.0))

    def commit(self) -> None:
        self.cache._commit(self.writes, self.touches, self.cache._clock())
        self.writes = {}
        self.touches = set()


# ---------------------------------------------------------------- OpenAI


def openai_message_tokens(message: Any) -> int:
    if not isinstance(message, dict):
        return 4 + json_tokens(message)
    total = 4
    content = message.get("content")
    if isinstance(content, str):
        total += tokens(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                total += tokens(str(part.get("text", "")))
            elif isinstance(part, dict) and part.get("type") in ("image_url", "input_image"):
                total += 85
            else:
                total += json_tokens(part)
    elif content is not None:
        total += json_tokens(content)
    if isinstance(message.get("name"), str):
        total += tokens(message["name"])
    for key in ("tool_calls", "function_call"):
        if message.get(key):
            total += json_tokens(message[key])
    return total


def _openai_chat_head(body: dict) -> dict:
    return {k: body[k] for k in ("tools", "response_format") if body.get(k) is not None}


def _openai_chat_prefix_tokens(body: dict, head: dict) -> list[int]:
    """Tokens of the prompt up to and including each message."""
    messages = body.get("messages")
    cumulative = json_tokens(head) if head else 0
    counts: list[int] = []
    for message in messages if isinstance(messages, list) else []:
        cumulative += openai_message_tokens(message)
        counts.append(cumulative)
    return counts or [cumulative]


def openai_chat_prompt_tokens(body: dict) -> int:
    """The emulator's estimate of a chat request's prompt tokens (what usage reports, and what
    counts against the enqueued-token limit)."""
    return _openai_chat_prefix_tokens(body, _openai_chat_head(body))[-1] + 3


def openai_chat_prompt_usage(body: dict, session: CacheSession) -> dict[str, int]:
    """prompt_tokens, cached_tokens and cache_write_tokens for a chat completion request."""
    model = str(body.get("model", ""))
    minimum = openai_min_cacheable(model)
    head = _openai_chat_head(body)
    messages = body.get("messages") or []
    counts = _openai_chat_prefix_tokens(body, head)
    cumulative = counts[-1]
    prompt_tokens = cumulative + 3
    cached = written = 0
    if cumulative >= minimum:  # hash prefixes only when one can be cached
        key = digest("openai", model, body.get("prompt_cache_key") or "", canonical(head))
        boundaries: list[tuple[bytes, int]] = []
        for message, count in zip(messages, counts, strict=True):
            key = digest(key, canonical(message))
            boundaries.append((key, count))
        for key, count in reversed(boundaries):
            if count >= minimum and session.hit(key):
                cached = count // 128 * 128
                break
        ttl = OPENAI_TTL_EXTENDED if body.get("prompt_cache_retention") == "24h" else OPENAI_TTL
        for key, count in boundaries:
            if count >= minimum:
                session.write(key, ttl)
                written = count // 128 * 128
    write_tokens = max(0, written - cached) if openai_bills_cache_writes(model) else 0
    return {
        "prompt_tokens": prompt_tokens,
        "cached_tokens": cached,
        "cache_write_tokens": write_tokens,
    }


# ---------------------------------------------------------------- Anthropic


def _without_cache_control(block: Any) -> Any:
    if isinstance(block, dict) and "cache_control" in block:
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


def _block_tokens(block: Any) -> int:
    if isinstance(block, str):
        return tokens(block)
    if isinstance(block, dict):
        kind = block.get("type")
        if kind == "text":
            return tokens(str(block.get("text", "")))
        if kind in ("image", "document"):
            return 1600
    return json_tokens(_without_cache_control(block))


def anthropic_blocks(params: dict) -> list[tuple[Any, int, Any]]:
    """(block without cache_control, tokens, cache_control or None) in prompt order."""
    blocks: list[tuple[Any, int, Any]] = []
    for tool in params.get("tools") or []:
        blocks.append(
            (
                _without_cache_control(tool),
                json_tokens(_without_cache_control(tool)),
                tool.get("cache_control") if isinstance(tool, dict) else None,
            )
        )
    system = params.get("system")
    if isinstance(system, str) and system:
        blocks.append(({"type": "text", "text": system}, tokens(system), None))
    elif isinstance(system, list):
        for block in system:
            blocks.append(
                (
                    _without_cache_control(block),
                    _block_tokens(block),
                    block.get("cache_control") if isinstance(block, dict) else None,
                )
            )
    for message in params.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        content = message.get("content")
        items = [{"type": "text", "text": content}] if isinstance(content, str) else content
        first = True
        for block in items or []:
            extra = 3 if first else 0
            first = False
            blocks.append(
                (
                    {"role": role, "block": _without_cache_control(block)},
                    _block_tokens(block) + extra,
                    block.get("cache_control") if isinstance(block, dict) else None,
                )
            )
    top = params.get("cache_control")
    if top and blocks and blocks[-1][2] is None:
        last = blocks[-1]
        blocks[-1] = (last[0], last[1], top)
    return blocks


def anthropic_breakpoint_count(params: dict) -> int:
    return sum(1 for _, _, control in anthropic_blocks(params) if control)


def anthropic_ttl(control: Any) -> str:
    if isinstance(control, dict):
        ttl = control.get("ttl") or "5m"
        return ttl if ttl in ANTHROPIC_TTLS else "5m"
    return "5m"


def anthropic_prompt_usage(params: dict, session: CacheSession) -> dict[str, Any]:
    model = str(params.get("model", ""))
    minimum = anthropic_min_cacheable(model)
    key = digest("anthropic", model)
    keys: list[bytes] = []
    cumulative: list[int] = []
    breakpoints: list[tuple[int, str]] = []
    total = 0
    for index, (block, count, control) in enumerate(anthropic_blocks(params)):
        key = digest(key, canonical(block))
        total += count
        keys.append(key)
        cumulative.append(total)
        if control:
            breakpoints.append((index, anthropic_ttl(control)))
    hit_index, read = -1, 0
    for index, _ in reversed(breakpoints):
        for candidate in range(index, max(-1, index - ANTHROPIC_LOOKBACK), -1):
            if cumulative[candidate] >= minimum and session.hit(keys[candidate]):
                hit_index, read = candidate, cumulative[candidate]
                break
        if hit_index >= 0:
            break
    creation = {"5m": 0, "1h": 0}
    previous = read
    for index, ttl in breakpoints:
        if index <= hit_index or cumulative[index] < minimum:
            continue
        session.write(keys[index], ANTHROPIC_TTLS[ttl])
        creation[ttl] += cumulative[index] - previous
        previous = cumulative[index]
    created = creation["5m"] + creation["1h"]
    return {
        "input_tokens": total - read - created,
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": creation["5m"],
            "ephemeral_1h_input_tokens": creation["1h"],
        },
    }
