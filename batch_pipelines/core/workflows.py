"""Each workflow declared once: the facts every layer needs about it.

The custom-id code (engine), the report label and the estimate's unit and volume (ledger, ROI app,
CLI), the partitioning, cadence, provider and assets (the Dagster wiring of `defs/`, which builds the
request and result assets and their jobs from this), and where its implementation lives
(`batch_pipelines.workflows.registry` imports it). Adding a workflow is adding a declaration here, its
module, and its trigger under `defs/<name>/` (README, "Adding a workflow");
`batch_pipelines_tests/test_workflow_declarations.py` fails when one of them is missing.

It lives in `core/` because the engine, the ledger and the database layer read it and `core/` sits
below all of them (it imports nothing of the project outside `core/`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from batch_pipelines.core.caching import AUTO_PRIMING, Priming

__all__ = [
    "Cadence",
    "EstimateVolume",
    "Partitioning",
    "ResultAsset",
    "UnknownWorkflow",
    "WorkflowDeclaration",
    "declaration",
    "declarations",
    "register",
    "workflow_label",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
# Custom ids start with it: two characters of `[a-z0-9]` keep ids within both providers' pattern.
_ID_CODE = re.compile(r"^[a-z0-9]{2}$")
PROVIDER_KINDS = ("openai", "anthropic", "self_hosted")


class Partitioning(StrEnum):
    """How a workflow's assets are partitioned in Dagster."""

    DATE_TENANT = "date_tenant"  # one partition per (date, tenant): work booked to its date
    TENANT = "tenant"  # one partition per tenant: each item booked to its own date (KB: the upload)


@dataclass(frozen=True)
class Cadence:
    """When the workflow's work is queued; its trigger in `defs/<name>/` reads it."""

    description: str  # for people: the README's table, the request asset's description
    every: dt.timedelta | None = None  # a fixed interval (a window), when it has one


@dataclass(frozen=True)
class EstimateVolume:
    """What a prospective tenant states for the estimate: so many units per day or per month."""

    argument: str  # the CLI option and ROI form field: `calls_per_day` → `--calls-per-day`
    label: str  # "Calls per day"
    per: str  # "day" | "month"
    maximum: int  # the largest volume the calculator answers for

    def __post_init__(self) -> None:
        if self.per not in ("day", "month"):
            raise ValueError(f"volume per 'day' or 'month', not {self.per!r}")


@dataclass(frozen=True)
class ResultAsset:
    """An asset the workflow's results are stored as."""

    name: str
    description: str
    kinds: tuple[str, ...] = ("postgres",)


@dataclass(frozen=True)
class WorkflowDeclaration:
    """One workflow, declared once."""

    name: str  # the `workflow` column everywhere, the Dagster group and job prefix
    id_code: str  # first two characters of its custom ids
    label: str  # how reports and the estimate name it
    unit: str  # what one item is, singular ("call"): what the estimate prices
    volume: EstimateVolume
    cadence: Cadence
    partitioning: Partitioning
    provider: str  # the provider kind it runs on by default
    model: str
    endpoint: str
    implementation: str  # "module:Class" implementing `batching.workflow.Workflow`
    request_asset: str
    request_description: str
    result_assets: tuple[ResultAsset, ...]
    extra_kinds: tuple[str, ...] = field(default=())  # more kinds for the request asset
    # When a new shared prompt prefix goes first, in a priming batch (`core/caching.py`): by
    # default where the batch price list makes a cache read cheaper than a write.
    priming: Priming = AUTO_PRIMING

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"workflow name {self.name!r} must match {_NAME.pattern}")
        if not _ID_CODE.fullmatch(self.id_code):
            raise ValueError(f"{self.name}: id code {self.id_code!r} must match {_ID_CODE.pattern}")
        if self.provider not in PROVIDER_KINDS:
            raise ValueError(f"{self.name}: provider {self.provider!r} not one of {PROVIDER_KINDS}")
        if ":" not in self.implementation:
            raise ValueError(f"{self.name}: implementation must read 'module:Class'")
        if not self.result_assets:
            raise ValueError(f"{self.name}: declare at least one result asset")

    @property
    def by_date(self) -> bool:
        return self.partitioning is Partitioning.DATE_TENANT

    @property
    def result_asset_names(self) -> tuple[str, ...]:
        return tuple(asset.name for asset in self.result_assets)

    @property
    def request_job(self) -> str:
        """What its trigger launches: the request asset's run, which queues the due work."""
        return f"{self.name}_job"

    @property
    def submit_job(self) -> str:
        """What `batch_submit_sensor` launches per group of queued work: plan, shard, submit."""
        return f"{self.name}_submit_job"

    @property
    def ingest_job(self) -> str:
        return f"{self.name}_ingest_job"


POST_CALL = WorkflowDeclaration(
    name="post_call",
    id_code="pc",
    label="post-call analytics",
    unit="call",
    volume=EstimateVolume("calls_per_day", "Calls per day", "day", 1_000_000),
    cadence=Cadence(
        "every 5 minutes: one run per date with newly finished calls, covering its tenants",
        every=dt.timedelta(minutes=5),
    ),
    partitioning=Partitioning.DATE_TENANT,
    provider="openai",
    model="gpt-4o-mini",
    endpoint="/v1/chat/completions",
    implementation="batch_pipelines.workflows.post_call:PostCallAnalytics",
    request_asset="post_call_requests",
    request_description=(
        "The finished calls of each (date, tenant), redacted per tenant policy and queued (one "
        "manifest row per call); batch_submit_sensor pools the queued calls of every tenant, "
        "whatever run queued them, into provider batches."
    ),
    result_assets=(
        ResultAsset(
            "call_analytics",
            "Summary, sentiment, lead score, topics and next action for every finished call: the "
            "batch results, validated and stored in `call_analytics`. Failed lines go to a later "
            "batch alone.",
        ),
    ),
)
LEAD_SCORING = WorkflowDeclaration(
    name="lead_scoring",
    id_code="ls",
    label="lead scoring",
    unit="lead",
    volume=EstimateVolume("leads_per_day", "Leads per day", "day", 1_000_000),
    cadence=Cadence("daily (02:00 UTC by default), for the previous day, all tenants in one run"),
    partitioning=Partitioning.DATE_TENANT,
    provider="anthropic",
    model="claude-haiku-4-5",
    endpoint="/v1/messages",
    implementation="batch_pipelines.workflows.lead_scoring:LeadScoring",
    request_asset="lead_score_requests",
    request_description=(
        "The leads created on each date, with their call's analytics, queued; batch_submit_sensor "
        "pools them across tenants into Message Batches (sharded only at the provider's limits)."
    ),
    result_assets=(
        ResultAsset(
            "lead_scores", "Score 0-100, reasons, best channel and time to reach out, per lead."
        ),
        ResultAsset(
            "outreach_drafts",
            "Follow-up e-mail drafts rendered into each tenant's HTML template (autoescaped, "
            "links only from the tenant's allow-list), with a plain-text part.",
            kinds=("postgres", "html"),
        ),
    ),
)
KB_INDEX = WorkflowDeclaration(
    name="kb_index",
    id_code="kb",
    label="KB indexing",
    unit="document",
    volume=EstimateVolume("docs_per_month", "Documents per month", "month", 10_000_000),
    cadence=Cadence("on uploads and deletions in kb_documents (checked every minute)"),
    partitioning=Partitioning.TENANT,
    provider="openai",
    model="text-embedding-3-large",
    endpoint="/v1/embeddings",
    implementation="batch_pipelines.workflows.kb_index:KnowledgeBaseIndex",
    request_asset="kb_embedding_requests",
    request_description=(
        "New or changed chunks of each tenant's knowledge-base documents, queued as embedding "
        "requests (many chunks per request), pooled across tenants by batch_submit_sensor. "
        "Chunks of deleted or replaced text are removed first; unchanged documents cost nothing."
    ),
    result_assets=(
        ResultAsset(
            "kb_index",
            "Each tenant's chunk vectors in `kb_chunks` (pgvector, HNSW), searchable per tenant "
            "only.",
            kinds=("pgvector", "postgres"),
        ),
    ),
)

_DECLARED: dict[str, WorkflowDeclaration] = {}


class UnknownWorkflow(KeyError):
    """A workflow name with no declaration: nothing of it may be written."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return (
            f"workflow {self.name!r} is not declared (batch_pipelines/core/workflows.py); "
            f"declared: {', '.join(_DECLARED)}"
        )


def register(workflow: WorkflowDeclaration) -> WorkflowDeclaration:
    """Add a declaration; a second one with the same name or id code is refused."""
    for other in _DECLARED.values():
        if other.name == workflow.name:
            raise ValueError(f"workflow {workflow.name!r} is declared twice")
        if other.id_code == workflow.id_code:
            raise ValueError(
                f"workflows {other.name!r} and {workflow.name!r} share the id code "
                f"{workflow.id_code!r}"
            )
    _DECLARED[workflow.name] = workflow
    return workflow


def declaration(name: str) -> WorkflowDeclaration:
    try:
        return _DECLARED[name]
    except KeyError:
        raise UnknownWorkflow(name) from None


def workflow_label(name: str) -> str:
    """The declared label; a workflow no longer declared (rows of a retired one) by its name."""
    declared = _DECLARED.get(name)
    return declared.label if declared else name


def declarations() -> Iterator[WorkflowDeclaration]:
    """Every declared workflow, in declaration order."""
    return iter(tuple(_DECLARED.values()))


for _builtin in (POST_CALL, LEAD_SCORING, KB_INDEX):
    register(_builtin)
