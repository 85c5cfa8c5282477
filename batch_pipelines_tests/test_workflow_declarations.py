"""Each workflow declared once (`core/workflows.py`), and every place that needs it reads it.

`declaration_problems` lists what a declared workflow lacks anywhere (its implementation, its
Dagster assets and jobs, its trigger under `defs/<name>/`, the ledger's dependency on its results,
its custom ids, its estimate option, its row in the README), and the converse (a `defs/` folder or a
workflow class nobody declared). The real code location has none. A toy workflow then follows the
README's recipe ("Adding a workflow") and runs through Dagster, the emulator and the ledger.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import Connection, text

import batch_pipelines.workflows
from batch_pipelines.batching import custom_ids
from batch_pipelines.batching.groups import BATCH_WINDOW_ENV
from batch_pipelines.batching.workflow import InvalidAnswer, ManifestRow, Rendered, WorkItem
from batch_pipelines.core import workflows as declared_workflows
from batch_pipelines.core.prompts import ChatPrompt, ModelAnswer
from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.core.workflows import (
    Cadence,
    EstimateVolume,
    Partitioning,
    ResultAsset,
    UnknownWorkflow,
    WorkflowDeclaration,
    declaration,
    declarations,
    workflow_label,
)
from batch_pipelines.daemon_loop import DaemonLoop
from batch_pipelines.db.seed import seed_demo
from batch_pipelines.definitions import defs
from batch_pipelines.defs.batching.sensors import (
    build_batch_poll_sensor,
    build_batch_submit_sensor,
)
from batch_pipelines.defs.batching.workflow_assets import build_workflow_defs
from batch_pipelines.defs.ledger.assets import build_cost_ledger
from batch_pipelines.defs.ledger.checks import cost_ledger_checks
from batch_pipelines.defs.tenants.partitions import date_range_tags
from batch_pipelines.defs.tenants.sensors import tenant_registry_sensor
from batch_pipelines.ledger.estimate import add_estimate_arguments, monthly_units
from batch_pipelines.workflows.registry import build_workflow

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFS_DIR = REPO_ROOT / "batch_pipelines" / "defs"
NOT_WORKFLOW_FOLDERS = {"batching", "ledger", "tenants"}


# --- the checker ------------------------------------------------------------------------------------


def declaration_problems(
    location: dg.Definitions, workflows: Iterable[WorkflowDeclaration]
) -> list[str]:
    """Everything a declared workflow lacks somewhere, one line each."""
    problems: list[str] = []
    graph = location.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    triggers = [*(location.sensors or ()), *(location.schedules or ())]
    for declared in workflows:
        name = declared.name
        try:
            build_workflow(declared)
        except (ImportError, ValueError) as error:
            problems.append(f"{name}: implementation: {error}")
        for asset in (declared.request_asset, *declared.result_asset_names):
            if dg.AssetKey(asset) not in keys:
                problems.append(f"{name}: no asset {asset} in the code location")
        for job in (declared.request_job, declared.submit_job, declared.ingest_job):
            try:
                location.resolve_job_def(job)
            except Exception:
                problems.append(f"{name}: no job {job} in the code location")
        if not any(declared.request_job in _targets(trigger) for trigger in triggers):
            problems.append(f"{name}: no sensor or schedule launches {declared.request_job}")
        if not any(declared.submit_job in _targets(trigger) for trigger in triggers):
            problems.append(f"{name}: batch_submit_sensor does not launch {declared.submit_job}")
        if not (DEFS_DIR / name).is_dir():
            problems.append(f"{name}: no trigger folder batch_pipelines/defs/{name}/")
        ledger_deps = graph.get(dg.AssetKey("cost_ledger")).parent_keys
        for asset in declared.result_asset_names:
            if dg.AssetKey(asset) not in ledger_deps:
                problems.append(f"{name}: cost_ledger does not depend on {asset}")
        try:
            (issued,) = custom_ids.new_custom_ids(name, [("acme", "item-1", 1)])
            if not issued.startswith(declared.id_code):
                problems.append(f"{name}: custom ids do not start with {declared.id_code}")
        except UnknownWorkflow as error:
            problems.append(f"{name}: custom ids: {error}")
        option = f"--{declared.volume.argument.replace('_', '-')}"
        parser = argparse.ArgumentParser()
        add_estimate_arguments(parser)
        if option not in parser._option_string_actions:
            problems.append(f"{name}: batch-pipelines estimate has no {option}")
        if f"`{declared.request_asset}`" not in readme:
            problems.append(f"{name}: the README's workflow table does not name it")
    return problems


def _targets(trigger) -> set[str]:
    if isinstance(trigger, dg.ScheduleDefinition):
        return {trigger.job_name}
    return {target.job_name for target in trigger.targets}


def undeclared_parts() -> list[str]:
    """Workflow folders under `defs/` and workflow classes under `workflows/` nobody declared."""
    names = {w.name for w in declarations()}
    implementations = {w.implementation for w in declarations()}
    problems = [
        f"batch_pipelines/defs/{folder.name}/ belongs to no declared workflow"
        for folder in sorted(DEFS_DIR.iterdir())
        if folder.is_dir()
        and (folder / "__init__.py").exists()
        and folder.name not in names | NOT_WORKFLOW_FOLDERS
    ]
    for module in _workflow_modules():
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            if all(hasattr(cls, m) for m in ("due_items", "render", "store")):
                path = f"{module.__name__}:{cls_name}"
                if path not in implementations:
                    problems.append(f"{path} implements Workflow but no declaration names it")
    return problems


def _workflow_modules() -> Iterator:
    for info in pkgutil.iter_modules(batch_pipelines.workflows.__path__):
        yield importlib.import_module(f"batch_pipelines.workflows.{info.name}")


# `dagster_instance`: loading the definitions needs a live instance (an earlier test's, gone,
# would otherwise be what Dagster's process-wide state points at).
def test_every_declared_workflow_is_wired_everywhere_and_nothing_is_undeclared(
    dagster_instance,
) -> None:
    assert declaration_problems(defs(), declarations()) == []
    assert undeclared_parts() == []


def test_a_declared_workflow_missing_elsewhere_is_named(dagster_instance) -> None:
    """A declaration alone: everything else is reported missing, by name."""
    with _registered(_toy_declaration("missing_parts", "mp", implementation="nowhere:Nothing")):
        problems = declaration_problems(defs(), [declaration("missing_parts")])
    assert "missing_parts: implementation: workflow 'missing_parts': cannot import" in problems[0]
    for expected in (
        "missing_parts: no asset missing_parts_requests in the code location",
        "missing_parts: no job missing_parts_job in the code location",
        "missing_parts: no sensor or schedule launches missing_parts_job",
        "missing_parts: no job missing_parts_submit_job in the code location",
        "missing_parts: batch_submit_sensor does not launch missing_parts_submit_job",
        "missing_parts: no trigger folder batch_pipelines/defs/missing_parts/",
        "missing_parts: cost_ledger does not depend on missing_parts",
        "missing_parts: the README's workflow table does not name it",
    ):
        assert expected in problems
    # The estimate reads the declarations when asked: a registered workflow has its option.
    assert not any("estimate" in p for p in problems)
    # And without the declaration, nothing issues it an id.
    with pytest.raises(UnknownWorkflow):
        custom_ids.new_custom_ids("missing_parts", [("acme", "i", 1)])


def test_a_second_declaration_of_a_name_or_an_id_code_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        declared_workflows.register(_toy_declaration("post_call", "zz"))
    with pytest.raises(ValueError, match="share the id code 'pc'"):
        declared_workflows.register(_toy_declaration("other", "pc"))
    with pytest.raises(ValueError, match="id code"):
        _toy_declaration("bad_code", "P!")


# --- a toy workflow, added by following the README's recipe -------------------------------------------

# Step 2 of the recipe: the implementation (here, triage of the day's calls into a priority).
TRIAGE_SCHEMA = {
    "type": "object",
    "properties": {"priority": {"type": "string", "enum": ["low", "normal", "urgent"]}},
    "required": ["priority"],
    "additionalProperties": False,
}


class TicketTriage:
    """A toy `Workflow`: each finished call gets a priority."""

    name = "ticket_triage"
    max_attempts = 2
    deadline = None

    def __init__(self, *, provider: str, model: str, endpoint: str) -> None:
        self.provider, self.model, self.endpoint = provider, model, endpoint

    def due_items(
        self, conn: Connection, partition_dates: Sequence[dt.date], tenant_ids: Sequence[str] | None
    ) -> list[WorkItem]:
        rows = conn.execute(
            text(
                "SELECT c.call_id, c.tenant_id, c.agent_id, (c.ended_at AT TIME ZONE 'UTC')::date"
                " FROM calls c WHERE (c.ended_at AT TIME ZONE 'UTC')::date = ANY(:days)"
                " AND (CAST(:tenants AS text[]) IS NULL OR c.tenant_id = ANY(:tenants))"
                " AND NOT EXISTS (SELECT 1 FROM ticket_triage t WHERE t.call_id = c.call_id)"
            ),
            {
                "days": list(partition_dates),
                "tenants": None if tenant_ids is None else list(tenant_ids),
            },
        )
        return [WorkItem(r[0], r[1], r[3], r[2]) for r in rows]

    def render(self, conn: Connection, items, tenants: dict[str, TenantContext]):
        return [
            Rendered(
                item,
                ChatPrompt(
                    static_blocks=("Triage the call: how urgent is a follow-up?",),
                    user=f"call {item.item_id} of {tenants[item.tenant_id].name}",
                    schema_name="ticket_triage",
                    json_schema=TRIAGE_SCHEMA,
                    max_output_tokens=20,
                ),
            )
            for item in items
        ]

    def store(
        self, conn: Connection, request: ManifestRow, answer: ModelAnswer, batch_model: str
    ) -> None:
        priority = (answer.json or {}).get("priority")
        if priority not in ("low", "normal", "urgent"):
            raise InvalidAnswer(f"ticket_triage answer: priority {priority!r}")
        conn.execute(
            text(
                "INSERT INTO ticket_triage (call_id, tenant_id, priority) VALUES (:c, :t, :p)"
                " ON CONFLICT (call_id) DO UPDATE SET priority = EXCLUDED.priority"
            ),
            {"c": request.item_id, "t": request.tenant_id, "p": priority},
        )


def _toy_declaration(
    name: str, id_code: str, implementation: str | None = None
) -> WorkflowDeclaration:
    # Step 1 of the recipe: the declaration.
    return WorkflowDeclaration(
        name=name,
        id_code=id_code,
        label=name.replace("_", " "),
        unit="ticket",
        volume=EstimateVolume(f"{name}_per_day", "Tickets per day", "day", 100_000),
        cadence=Cadence("by its sensor, for the day's calls"),
        partitioning=Partitioning.DATE_TENANT,
        provider="openai",
        model="gpt-4o-mini",
        endpoint="/v1/chat/completions",
        implementation=implementation or f"{__name__}:TicketTriage",
        request_asset=f"{name}_requests",
        request_description="The day's finished calls, queued for triage.",
        result_assets=(ResultAsset(name, "A priority per finished call."),),
    )


class _registered:
    """The declaration registered for the block (a test must not leave it behind)."""

    def __init__(self, workflow: WorkflowDeclaration) -> None:
        self.workflow = workflow

    def __enter__(self) -> WorkflowDeclaration:
        return declared_workflows.register(self.workflow)

    def __exit__(self, *exc) -> None:
        declared_workflows._DECLARED.pop(self.workflow.name, None)


def test_a_toy_workflow_added_by_the_recipe_runs_through_dagster_and_the_ledger(
    dagster_instance, engine, emulator, monkeypatch
) -> None:
    monkeypatch.setenv(BATCH_WINDOW_ENV, "0")
    day = dt.date(2026, 11, 20)
    seed_demo(
        engine, tenants=3, date=day, calls_per_tenant=3, leads_per_tenant=0, docs_per_tenant=0
    )
    # Step 3: its results table (a migration in the project).
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE ticket_triage (call_id text PRIMARY KEY REFERENCES calls,"
                " tenant_id text NOT NULL, priority text NOT NULL)"
            )
        )
    with _registered(_toy_declaration("ticket_triage", "tt")) as toy:
        # The wiring is built from the declaration; step 4 is its trigger.
        wiring = build_workflow_defs(toy)

        @dg.sensor(job=wiring.request_job, name="ticket_triage_sensor")
        def ticket_triage_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest:
            return dg.RunRequest(tags=date_range_tags(context.instance, day))

        location = dg.Definitions(
            assets=[
                wiring.request_asset,
                wiring.results,
                build_cost_ledger([wiring]),
                cost_ledger_checks,
            ],
            jobs=[wiring.request_job, wiring.submit_job, wiring.ingest_job],
            sensors=[
                tenant_registry_sensor,
                ticket_triage_sensor,
                build_batch_submit_sensor({toy.name: wiring}),
                build_batch_poll_sensor({toy.name: wiring}),
            ],
            resources=defs().resources,
        )
        # What a test cannot do as the recipe says: a folder and a README row of its own.
        assert declaration_problems(location, [toy]) == [
            "ticket_triage: no trigger folder batch_pipelines/defs/ticket_triage/",
            "ticket_triage: the README's workflow table does not name it",
        ]
        daemon = DaemonLoop(location, dagster_instance)
        daemon.tick_sensor("tenant_registry_sensor")
        (queued,) = daemon.tick_sensor("ticket_triage_sensor")
        assert queued.success
        daemon.settle(rounds=6)
        ingests = [r for r in daemon.runs if r.dagster_run.job_name == "ticket_triage_ingest_job"]
        assert ingests and all(r.success for r in ingests)

        with engine.connect() as conn:
            triaged = conn.execute(text("SELECT count(*) FROM ticket_triage")).scalar_one()
            ids = conn.execute(
                text("SELECT custom_id FROM batch_requests WHERE workflow = 'ticket_triage'")
            ).scalars()
            ledger = conn.execute(
                text("SELECT count(*) FROM cost_ledger WHERE workflow = 'ticket_triage'")
            ).scalar_one()
            finished = conn.execute(
                text("SELECT count(*) FROM calls WHERE (ended_at AT TIME ZONE 'UTC')::date = :d"),
                {"d": day},
            ).scalar_one()
        assert finished and triaged == finished and ledger == finished
        assert all(custom_id.startswith("tt") for custom_id in ids)
        # Each partition's metadata is its own: its tenant's calls of the day.
        rows: dict[str, int] = {}
        for run in ingests:
            for event in run.get_asset_materialization_events():
                if event.materialization.asset_key == dg.AssetKey("ticket_triage"):
                    value = event.materialization.metadata["dagster/row_count"].value
                    rows[event.materialization.partition] = value
        with engine.connect() as conn:
            own = dict(
                conn.execute(
                    text(
                        "SELECT :d || '|' || tenant_id,"
                        " count(*) FROM ticket_triage GROUP BY tenant_id"
                    ),
                    {"d": day.isoformat()},
                ).all()
            )
        assert rows == own and len(own) == 3
        # Reports and the estimate read the declaration too.
        assert workflow_label("ticket_triage") == "ticket triage"
        assert monthly_units({"ticket_triage_per_day": 2})["ticket_triage"] == 60
