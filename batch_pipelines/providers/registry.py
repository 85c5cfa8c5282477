"""Which provider adapter, with which credentials, talking to which server.

With `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` set, the real APIs (or `OPENAI_BASE_URL` /
`ANTHROPIC_BASE_URL`); without, the bundled emulator at `BATCH_PIPELINES_EMULATOR_URL`. Nothing else
differs. An isolated tenant's batches use that tenant's own key, named by its policy
(`policy.credentials.openai_api_key_env` / `anthropic_api_key_env`): never the shared key.
Keys are read from the environment when a client is built and are never stored or logged.
"""

from __future__ import annotations

import functools
import os
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anthropic
import openai

from batch_pipelines.providers.anthropic_batch import AnthropicBatchProvider
from batch_pipelines.providers.base import BatchProvider, ProviderConfigError
from batch_pipelines.providers.openai_batch import OpenAIBatchProvider
from batch_pipelines.providers.self_hosted import SelfHostedProvider

EMULATOR_URL_ENV = "BATCH_PIPELINES_EMULATOR_URL"
SELF_HOSTED_URL_ENV = "BATCH_PIPELINES_SELF_HOSTED_URL"
SELF_HOSTED_KEY_ENV = "BATCH_PIPELINES_SELF_HOSTED_API_KEY"
DEFAULT_EMULATOR_URL = "http://127.0.0.1:8089"
_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_BASE_URL_ENV = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}
_TENANT_KEY_FIELD = {"openai": "openai_api_key_env", "anthropic": "anthropic_api_key_env"}


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key: str
    emulated: bool


def tenant_credentials_ref(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


def resolve_endpoint(
    provider: str, credentials_ref: str, tenant_policy: Mapping[str, Any] | None = None
) -> Endpoint:
    if provider == "self_hosted":
        url = os.environ.get(SELF_HOSTED_URL_ENV)
        if url:
            return Endpoint(url, os.environ.get(SELF_HOSTED_KEY_ENV) or "none", False)
        root = (os.environ.get(EMULATOR_URL_ENV) or DEFAULT_EMULATOR_URL).rstrip("/")
        return Endpoint(root + "/v1", "emulator", True)
    if provider not in _KEY_ENV:
        raise ProviderConfigError(f"unknown batch provider {provider!r}")
    shared_key = os.environ.get(_KEY_ENV[provider])
    base_url = os.environ.get(_BASE_URL_ENV[provider]) or None
    emulated = not shared_key
    if emulated:
        root = (os.environ.get(EMULATOR_URL_ENV) or DEFAULT_EMULATOR_URL).rstrip("/")
        base_url = base_url or (root + "/v1" if provider == "openai" else root)
    if credentials_ref == "default":
        return Endpoint(base_url, shared_key or "emulator", emulated)
    tenant_id = credentials_ref.removeprefix("tenant:")
    credentials = (tenant_policy or {}).get("credentials") or {}
    key_env = credentials.get(_TENANT_KEY_FIELD[provider])
    key = os.environ.get(key_env) if key_env else None
    if key:
        return Endpoint(base_url, key, emulated)
    if emulated:
        # The emulator accepts any key; a distinct one keeps isolated traffic visibly apart.
        return Endpoint(base_url, f"emulator-{tenant_id}", emulated)
    raise ProviderConfigError(
        f"tenant {tenant_id} is isolated but has no {provider} key: set policy.credentials."
        f"{_TENANT_KEY_FIELD[provider]} to the name of an environment variable holding its key"
    )


def uses_emulator() -> bool:
    """Whether any provider would be served by the bundled emulator at its default address."""
    return any(
        not os.environ.get(_KEY_ENV[p]) and not os.environ.get(_BASE_URL_ENV[p]) for p in _KEY_ENV
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context (the system's trust store) for every client of this process: loading the
    CA certificates takes tens of milliseconds, once per client otherwise, i.e. once per isolated
    tenant's credentials. Each adapter still has its own client and connection pool."""
    return ssl.create_default_context()


class ProviderRegistry:
    """Builds (and reuses) one adapter per (provider, credentials)."""

    def __init__(
        self, *, max_retries: int = 2, timeout: float = 120.0, self_hosted_concurrency: int = 16
    ) -> None:
        self.max_retries = max_retries
        self.self_hosted_concurrency = self_hosted_concurrency
        self.timeout = timeout
        self._cache: dict[tuple[str, str, str | None, str], BatchProvider] = {}
        self._lock = threading.Lock()

    def get(
        self,
        provider: str,
        credentials_ref: str = "default",
        tenant_policy: Mapping[str, Any] | None = None,
    ) -> BatchProvider:
        endpoint = resolve_endpoint(provider, credentials_ref, tenant_policy)
        key = (provider, credentials_ref, endpoint.base_url, endpoint.api_key)
        with self._lock:
            adapter = self._cache.get(key)
            if adapter is None:
                adapter = self._build(provider, endpoint)
                self._cache[key] = adapter
        return adapter

    def _build(self, provider: str, endpoint: Endpoint) -> BatchProvider:
        if provider in ("openai", "self_hosted"):

            def client() -> openai.OpenAI:
                return openai.OpenAI(
                    api_key=endpoint.api_key,
                    base_url=endpoint.base_url,
                    max_retries=self.max_retries,
                    timeout=self.timeout,
                    http_client=openai.DefaultHttpxClient(verify=_tls_context()),
                )

            if provider == "self_hosted":
                return SelfHostedProvider(client(), concurrency=self.self_hosted_concurrency)
            # Built on first use: planning never calls the API.
            return OpenAIBatchProvider(client_factory=client)
        client = anthropic.Anthropic(
            api_key=endpoint.api_key,
            base_url=endpoint.base_url,
            max_retries=self.max_retries,
            timeout=self.timeout,
            http_client=anthropic.DefaultHttpxClient(verify=_tls_context()),
        )
        return AnthropicBatchProvider(client)
