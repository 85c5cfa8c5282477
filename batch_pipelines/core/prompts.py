"""Provider-neutral prompts and answers: what a workflow renders and what a provider returns.
Each provider adapter turns a prompt into its own wire format and parses its answer back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChatPrompt:
    """A structured-output chat request. Static instructions first, tenant data last.

    `static_blocks` are the cacheable prefix, most widely shared first: e.g. the workflow's
    instructions (all tenants), the vertical's rubric (all tenants of a vertical), then per-tenant
    business facts. They must not contain the item's own data. `user` holds the item's data.
    """

    static_blocks: tuple[str, ...]
    user: str
    schema_name: str
    json_schema: Mapping[str, Any]
    max_output_tokens: int = 1024


@dataclass(frozen=True)
class EmbeddingInput:
    """An embeddings request: many texts of one tenant in one request."""

    texts: tuple[str, ...]
    dimensions: int | None = None


Prompt = ChatPrompt | EmbeddingInput


@dataclass(frozen=True)
class ModelAnswer:
    """A provider's answer, provider-neutral. Exactly one of `json`, `text`, `embeddings` is set
    for a well-formed answer; `json` is the structured output (OpenAI json_schema content parsed,
    Anthropic tool_use input), `text` is the raw text when no JSON could be parsed."""

    model: str
    json: Mapping[str, Any] | None = None
    text: str | None = None
    embeddings: Sequence[Sequence[float]] | None = None
    finish_reason: str | None = None
