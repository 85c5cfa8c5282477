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
from typing import TYPE_CHECKING, Any

import anthropic
import openai

from batch_pipelines.providers.anthropic_batch import AnthropicBatchProvider
from batch_pipelines.providers.base import BatchProvider, ProviderConfigError, retry_after_seconds
from batch_pipelines.providers.openai_batch import OpenAIBatchProvider
from batch_pipelines.providers.self_hosted import SelfHostedProvider
from batch_pipelines.providers.settings import (
    DEFAULT_EMULATOR_URL,
    EMULATOR_URL_ENV,
    QueueLimit,
    queue_limit,
    settings,
)

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "DEFAULT_EMULATOR_URL",
    "EMULATOR_URL_ENV",
    "Endpoint",
    "ProviderRegistry",
    "credential_variable",
    "resolve_endpoint",
    "tenant_credentials_ref",
    "uses_emulator",
]
# The longest Retry-After an SDK may sleep through inside a call. A longer one fails the call at
# once (`x-should-retry: false`, which both SDKs obey), so the engine defers that job and the tick
# goes on: Anthropic's SDK would otherwise sleep for any Retry-After, OpenAI's for up to 120 s.
MAX_IN_CALL_RETRY_AFTER = 5.0


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key: str
    emulated: bool


def tenant_credentials_ref(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


def _tenant_of(credentials_ref: str) -> str | None:
    return credentials_ref.removeprefix("tenant:") if credentials_ref != "default" else None


def credential_variable(
    provider: str, credentials_ref: str, tenant_policy: Mapping[str, Any] | None = None
) -> str:
    """The environment variable holding the key of these credentials (for messages a person acts
    on; the key itself is never read here)."""
    config = settings(provider)
    if _tenant_of(credentials_ref) is None or config.tenant_key_field is None:
        return config.key_env or "(none)"
    credentials = (tenant_policy or {}).get("credentials") or {}
    return credentials.get(config.tenant_key_field) or (
        f"policy.credentials.{config.tenant_key_field}"
    )


def resolve_endpoint(
    provider: str, credentials_ref: str, tenant_policy: Mapping[str, Any] | None = None
) -> Endpoint:
    config = settings(provider)
    if provider == "self_hosted":
        url = os.environ.get(config.base_url_env or "")
        if url:
            return Endpoint(url, os.environ.get(config.key_env or "") or "none", False)
        root = (os.environ.get(EMULATOR_URL_ENV) or DEFAULT_EMULATOR_URL).rstrip("/")
        return Endpoint(root + "/v1", "emulator", True)
    shared_key = os.environ.get(config.key_env or "")
    base_url = os.environ.get(config.base_url_env or "") or None
    emulated = not shared_key
    if emulated:
        root = (os.environ.get(EMULATOR_URL_ENV) or DEFAULT_EMULATOR_URL).rstrip("/")
        base_url = base_url or (root + "/v1" if provider == "openai" else root)
    tenant_id = _tenant_of(credentials_ref)
    if tenant_id is None:
        return Endpoint(base_url, shared_key or "emulator", emulated)
    credentials = (tenant_policy or {}).get("credentials") or {}
    key_env = credentials.get(config.tenant_key_field)
    key = os.environ.get(key_env) if key_env else None
    if key:
        return Endpoint(base_url, key, emulated)
    if emulated:
        # The emulator accepts any key; a distinct one keeps isolated traffic visibly apart.
        return Endpoint(base_url, f"emulator-{tenant_id}", emulated)
    if key_env:
        raise ProviderConfigError(
            f"tenant {tenant_id} is isolated and its {provider} key variable {key_env} "
            f"(policy.credentials.{config.tenant_key_field}) is not set: set {key_env}"
        )
    raise ProviderConfigError(
        f"tenant {tenant_id} is isolated but has no {provider} key: set policy.credentials."
        f"{config.tenant_key_field} to the name of an environment variable holding its key"
    )


def uses_emulator() -> bool:
    """Whether any provider would be served by the bundled emulator at its default address."""
    return any(
        not os.environ.get(settings(p).key_env or "")
        and not os.environ.get(settings(p).base_url_env or "")
        for p in ("openai", "anthropic")
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context (the system's trust store) for every client of this process: loading the
    CA certificates takes tens of milliseconds, once per client otherwise, i.e. once per isolated
    tenant's credentials. Each adapter still has its own client and connection pool."""
    return ssl.create_default_context()


def _no_long_waits(response: httpx2.Response) -> None:
    """An httpx response hook: a Retry-After longer than `MAX_IN_CALL_RETRY_AFTER` is not slept
    through by the SDK's retry loop; the call fails with the 429 (or 5xx) and its Retry-After."""
    if response.status_code < 429:
        return
    wait = retry_after_seconds(response.headers)
    if wait is not None and wait > MAX_IN_CALL_RETRY_AFTER:
        response.headers["x-should-retry"] = "false"


class ProviderRegistry:
    """Builds (and reuses) one adapter per (provider, credentials).

    `max_retries` applies to the calls that can safely be repeated (retrieve, list, cancel,
    downloads); uploads, creates and synchronous completions are never retried by the SDK (a
    create whose answer was lost is reconciled instead of sent again)."""

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

    def queue_limit(self, provider: str, model: str) -> QueueLimit | None:
        """What admission control keeps `model`'s live batches within, per credential."""
        return queue_limit(provider, model)

    def _http_client(self, sdk: Any) -> Any:
        return sdk.DefaultHttpxClient(
            verify=_tls_context(), event_hooks={"response": [_no_long_waits]}
        )

    def _build(self, provider: str, endpoint: Endpoint) -> BatchProvider:
        if provider in ("openai", "self_hosted"):

            def client() -> openai.OpenAI:
                return openai.OpenAI(
                    api_key=endpoint.api_key,
                    base_url=endpoint.base_url,
                    max_retries=self.max_retries,
                    timeout=self.timeout,
                    http_client=self._http_client(openai),
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
            http_client=self._http_client(anthropic),
        )
        return AnthropicBatchProvider(client)
