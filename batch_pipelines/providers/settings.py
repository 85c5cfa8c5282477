"""Each provider's settings, declared once: the environment variables that configure it and the
queue limit admission control keeps its batches within.

Queue limits (what the provider lets wait at once, per organisation):

- OpenAI counts the input tokens of every batch of a model still validating, in progress or
  finalizing against that model's *batch queue limit*; a batch past it is accepted and then fails
  with `token_limit_exceeded`. Defaults: the Tier 1 column "Batch queue limit" of OpenAI's rate
  limits page (platform.openai.com/docs/guides/rate-limits, as quoted in community.openai.com
  threads 1028595 and 1269349: gpt-4o-mini 2,000,000; gpt-4o 90,000; text-embedding-3-* 3,000,000
  …). Override or add models with `BATCH_PIPELINES_ENQUEUED_TOKEN_LIMITS`
  (`"gpt-4o-mini=20000000,text-embedding-3-large=3000000"`). A model in neither has no limit the
  engine knows of: its batches are never held back.
- Anthropic counts the requests not yet processed across all the organisation's Message Batches,
  whatever their model ("Maximum batch requests in processing queue", Anthropic's rate limits page,
  docs.claude.com/en/api/rate-limits, Message Batches API, Tier 1: 100,000; the page's newer
  Start tier lists 200,000, so the older, lower figure is kept as the safe default). Override with
  `BATCH_PIPELINES_ANTHROPIC_QUEUE_LIMIT`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from batch_pipelines.core.models import alias_of
from batch_pipelines.providers.base import ProviderConfigError

EMULATOR_URL_ENV = "BATCH_PIPELINES_EMULATOR_URL"
DEFAULT_EMULATOR_URL = "http://127.0.0.1:8089"
ENQUEUED_TOKEN_LIMITS_ENV = "BATCH_PIPELINES_ENQUEUED_TOKEN_LIMITS"
ANTHROPIC_QUEUE_LIMIT_ENV = "BATCH_PIPELINES_ANTHROPIC_QUEUE_LIMIT"

OPENAI_TIER1_SOURCE = (
    "OpenAI rate limits, Tier 1 'Batch queue limit' (platform.openai.com/docs/guides/rate-limits)"
)
ANTHROPIC_TIER1_SOURCE = (
    "Anthropic rate limits, Message Batches API, Tier 1 'Maximum batch requests in processing "
    "queue' (docs.claude.com/en/api/rate-limits)"
)


@dataclass(frozen=True)
class QueueLimit:
    """How much of a provider's batch queue one (credential, `scope`) may fill at once."""

    unit: Literal["tokens", "requests"]
    limit: int
    scope: str  # the model, or "all models" where the provider counts them together
    source: str  # the document, or the variable that set it


@dataclass(frozen=True)
class ProviderSettings:
    """What configures one provider. A variable named here is read from the environment when a
    client is built, never stored."""

    name: str
    key_env: str | None  # the shared key; unset: the bundled emulator
    base_url_env: str | None
    tenant_key_field: str | None  # policy.credentials.<field>: the variable of a tenant's own key
    queue_unit: Literal["tokens", "requests"] | None
    queue_limit_env: str | None
    # Tier 1 defaults: per model (OpenAI) or one for every model (Anthropic, under "*").
    default_queue_limits: Mapping[str, int] = field(default_factory=dict)
    default_source: str = ""


PROVIDERS: dict[str, ProviderSettings] = {
    "openai": ProviderSettings(
        name="openai",
        key_env="OPENAI_API_KEY",
        base_url_env="OPENAI_BASE_URL",
        tenant_key_field="openai_api_key_env",
        queue_unit="tokens",
        queue_limit_env=ENQUEUED_TOKEN_LIMITS_ENV,
        default_queue_limits={
            "gpt-4o-mini": 2_000_000,
            "gpt-4o": 90_000,
            "gpt-4-turbo": 90_000,
            "gpt-4": 100_000,
            "gpt-3.5-turbo": 2_000_000,
            "text-embedding-3-large": 3_000_000,
            "text-embedding-3-small": 3_000_000,
            "text-embedding-ada-002": 3_000_000,
        },
        default_source=OPENAI_TIER1_SOURCE,
    ),
    "anthropic": ProviderSettings(
        name="anthropic",
        key_env="ANTHROPIC_API_KEY",
        base_url_env="ANTHROPIC_BASE_URL",
        tenant_key_field="anthropic_api_key_env",
        queue_unit="requests",
        queue_limit_env=ANTHROPIC_QUEUE_LIMIT_ENV,
        default_queue_limits={"*": 100_000},
        default_source=ANTHROPIC_TIER1_SOURCE,
    ),
    # A self-hosted server has no queue: `create` drives it to the end.
    "self_hosted": ProviderSettings(
        name="self_hosted",
        key_env="BATCH_PIPELINES_SELF_HOSTED_API_KEY",
        base_url_env="BATCH_PIPELINES_SELF_HOSTED_URL",
        tenant_key_field=None,
        queue_unit=None,
        queue_limit_env=None,
    ),
}


def settings(provider: str) -> ProviderSettings:
    try:
        return PROVIDERS[provider]
    except KeyError:
        raise ProviderConfigError(f"unknown batch provider {provider!r}") from None


def queue_limit(provider: str, model: str) -> QueueLimit | None:
    """The queue limit `model`'s batches on `provider` are admitted within, per credential; None
    when the provider has no queue or the engine knows no limit for the model."""
    config = settings(provider)
    if config.queue_unit is None or config.queue_limit_env is None:
        return None
    configured = os.environ.get(config.queue_limit_env, "")
    if config.queue_unit == "requests":
        limits = {"*": _positive(configured, config.queue_limit_env)} if configured.strip() else {}
        key, scope = "*", "all models"
    else:
        limits = _token_limits(configured)
        key = scope = alias_of(model)
    if key in limits:
        return QueueLimit(config.queue_unit, limits[key], scope, config.queue_limit_env)
    if key in config.default_queue_limits:
        return QueueLimit(
            config.queue_unit, config.default_queue_limits[key], scope, config.default_source
        )
    return None


def _positive(value: str, variable: str) -> int:
    try:
        number = int(value.strip().replace("_", ""))
    except ValueError:
        number = -1
    if number <= 0:
        raise ProviderConfigError(f"{variable}={value!r} is not a positive whole number")
    return number


@functools.lru_cache(maxsize=16)
def _token_limits(configured: str) -> dict[str, int]:
    """`"gpt-4o-mini=2000000, text-embedding-3-large=3000000"` → {model: tokens}."""
    limits: dict[str, int] = {}
    for entry in configured.split(","):
        if not entry.strip():
            continue
        model, sep, tokens = entry.partition("=")
        if not sep or not model.strip():
            raise ProviderConfigError(
                f"{ENQUEUED_TOKEN_LIMITS_ENV}: {entry.strip()!r} is not MODEL=TOKENS"
            )
        limits[alias_of(model.strip())] = _positive(tokens, ENQUEUED_TOKEN_LIMITS_ENV)
    return limits
