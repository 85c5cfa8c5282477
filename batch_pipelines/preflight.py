"""What `run-day` and `demo` check before they queue anything, so that a mistake a person can fix
gets one line saying what to fix instead of a traceback or twenty minutes of retries: a database
that does not connect, no tenants, a provider that cannot be reached.

A tenant's missing key is not checked here: it parks only that tenant's batches (the engine says
which variable to set) while everyone else's work goes on.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from batch_pipelines.core.workflows import declarations
from batch_pipelines.db.settings import DATABASE_URL_ENV
from batch_pipelines.db.tenants import tenant_ids
from batch_pipelines.providers.registry import EMULATOR_URL_ENV, resolve_endpoint
from batch_pipelines.providers.settings import settings

# A reachable provider answers a list call in well under this; an unreachable one that drops
# packets (a firewall) would otherwise hold the command for the SDK's default of 10 minutes.
PROBE_TIMEOUT_SECONDS = 10.0
_PROVIDER_NAMES = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "self_hosted": "the self-hosted server",
}


class PreflightError(RuntimeError):
    """Something a person must fix before the day can run; the message says what."""


class NoTenants(PreflightError):
    def __init__(self) -> None:
        super().__init__(
            "no tenants in the database: add some with `batch-pipelines seed --date D` (demo data) "
            "or `batch-pipelines tenant add ID --name N --vertical V`"
        )


class DatabaseUnreachable(PreflightError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot connect to the database at {url} ({reason}): is the server running, and is "
            f"{DATABASE_URL_ENV} right? (unset, an embedded Postgres is used)"
        )
        self.url = url


class ProviderUnreachable(PreflightError):
    def __init__(self, provider: str, base_url: str, reason: str, hint: str) -> None:
        super().__init__(
            f"cannot reach {_PROVIDER_NAMES.get(provider, provider)} at {base_url} ({reason}): "
            f"{hint}; nothing was queued or sent"
        )
        self.provider = provider
        self.base_url = base_url


def displayed_url(url: str) -> str:
    """A database URL fit to print: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: say so rather than print it
        return "(an unparsable URL)"


def database_error(exc: DBAPIError, url: str) -> DatabaseUnreachable:
    """The one-line form of a driver's connection error (psycopg's spans several lines)."""
    orig = exc.orig if exc.orig is not None else exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return DatabaseUnreachable(displayed_url(url), lines[0] if lines else type(orig).__name__)


def open_database() -> Engine:
    """The project's engine (migrated on first use), or `DatabaseUnreachable`."""
    from batch_pipelines.db import database_url, get_engine

    url = database_url()
    try:
        return get_engine(url)
    except OperationalError as exc:  # connecting, the first thing it does, failed
        raise database_error(exc, url) from exc


def check_tenants(engine: Engine) -> list[str]:
    """The tenants, or `NoTenants`."""
    with engine.connect() as conn:
        tenants = tenant_ids(conn)
    if not tenants:
        raise NoTenants()
    return tenants


def check_providers() -> None:
    """Every provider a declared workflow runs on answers at its shared endpoint (any HTTP answer
    counts, a refused key too: that parks its batches with the reason); `ProviderUnreachable`
    for the first that does not."""
    for provider in dict.fromkeys(declared.provider for declared in declarations()):
        _probe(provider)


def _probe(provider: str) -> None:
    import anthropic
    import openai

    endpoint = resolve_endpoint(provider, "default")
    options = {"api_key": endpoint.api_key, "max_retries": 0, "timeout": PROBE_TIMEOUT_SECONDS}
    try:
        if provider == "anthropic":
            client = anthropic.Anthropic(base_url=endpoint.base_url, **options)
            base_url = str(client.base_url)
            client.messages.batches.list(limit=1)
        else:
            client = openai.OpenAI(base_url=endpoint.base_url, **options)
            base_url = str(client.base_url)
            if provider == "self_hosted":
                client.models.list()  # vLLM and TGI serve the model list; they have no batches
            else:
                client.batches.list(limit=1)
    except (openai.APIConnectionError, anthropic.APIConnectionError) as exc:
        cause = exc.__cause__ or exc
        reason = str(cause).strip() or type(cause).__name__
        hint = _hint(provider, endpoint.emulated)
        raise ProviderUnreachable(provider, base_url, reason, hint) from exc
    except (openai.APIError, anthropic.APIError):
        return  # it answered


def _hint(provider: str, emulated: bool) -> str:
    if emulated:
        return f"is the emulator running there? ({EMULATOR_URL_ENV})"
    config = settings(provider)
    return f"check {config.base_url_env} and the network"
