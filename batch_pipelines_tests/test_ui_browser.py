"""`make dev` in a real browser (issue 9).

`batch-pipelines dev` is started exactly as `make dev` starts it (embedded Postgres under a fresh
BATCH_PIPELINES_HOME, the bundled emulator, `dagster dev` with webserver and daemon), over five seeded
days of 4 tenants. Headless Chromium (Debian's package, installed here when missing) opens the UI,
checks the asset graph shows the three workflows and the ledger, and launches a backfill of
`post_call_requests` over more dates than tenants (5 × 4) through the launch dialog, as a user
does. Dagster cuts such a backfill along its smaller dimension: one run per tenant, over every
date. The daemon runs those runs, which only queue; once the batch window has passed (60 s here,
set as a user would), `batch_submit_sensor` launches a submit run per group, and the test checks
the work pooled across tenants whatever the runs were: one shared provider batch for the pooled
tenants' calls of every date, plus one per isolated tenant, holding exactly the dates' finished
calls; then every call of those dates ends analysed or dead-lettered.

Screenshots go to `$UI_SCREENSHOTS_DIR` (e.g. `docs/screenshots` to refresh the README's), else to the
test's tmp dir. Set `UI_TEST_KEEP_HOME=1` to keep the temporary home (database, logs) for debugging.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from batch_pipelines.batching.groups import BATCH_WINDOW_ENV
from batch_pipelines.db.engine import with_driver
from batch_pipelines.db.settings import DATABASE_URL_ENV, HOME_ENV
from batch_pipelines.defs.tenants.partitions import RANGE_END, RANGE_START
from batch_pipelines_tests.ui_dev_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DevServer,
    cli,
    dev_server,
    ensure_chromium,
    wait_for,
)

WORKFLOW_ASSETS = {
    "post_call": ["post_call_requests", "call_analytics"],
    "lead_scoring": ["lead_score_requests", "lead_scores", "outreach_drafts"],
    "kb_index": ["kb_embedding_requests", "kb_index"],
    "ledger": ["cost_ledger", "tenant_cost_report"],
}
TENANTS = 4
DATES = 5  # more dates than tenants: Dagster makes one run per tenant
BATCH_WINDOW_SECONDS = 60  # longer than the backfill runs take to queue, so they all pool
FIRST_PARTITION_DATE = dt.date(2026, 11, 1)
VIEWPORT = {"width": 1920, "height": 1300}  # big enough for the expanded graph with full names
# Providers and database come from the dev command itself: nothing from the caller's environment.
CALLER_ENV_TO_DROP = (
    DATABASE_URL_ENV,
    "DAGSTER_HOME",
    "BATCH_PIPELINES_EMULATOR_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
)

WORKSPACE_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
PARTITIONS_QUERY = """{ assetNodeOrError(assetKey: {path: ["post_call_requests"]}) {
  ... on AssetNode { partitionKeysByDimension { name partitionKeys } } } }"""
BACKFILL_QUERY = """query ($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status numPartitions
    runs { runId status tags { key value } } } } }"""
FAILED_RUN = {"FAILURE", "CANCELED", "CANCELING"}


def backfill_dates() -> list[dt.date]:
    """Recent days, but not yesterday or today: `post_call_window_sensor` (running in dev)
    queues those days' calls by itself every 5 minutes, which would race the backfill."""
    first = max(dt.datetime.now(dt.UTC).date() - dt.timedelta(days=DATES + 1), FIRST_PARTITION_DATE)
    return [first + dt.timedelta(days=n) for n in range(DATES)]


@pytest.fixture
def chromium() -> str:
    reason = ensure_chromium()
    if reason:
        pytest.skip(f"BROWSER TEST SKIPPED, no headless Chromium: {reason}")
    pytest.importorskip(
        "playwright.sync_api", reason="BROWSER TEST SKIPPED: playwright is not installed (.[dev])"
    )
    return str(CHROMIUM)


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("UI_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def dev_env() -> Iterator[dict[str, str]]:
    """The environment `make dev` would have, with its own fresh home (short path: the embedded
    Postgres puts its socket there). Afterwards the home's embedded Postgres is stopped."""
    home = Path(tempfile.mkdtemp(prefix="bp-ui-")) / "home"
    env = {k: v for k, v in os.environ.items() if k not in CALLER_ENV_TO_DROP}
    env[HOME_ENV] = str(home)
    env[BATCH_WINDOW_ENV] = str(BATCH_WINDOW_SECONDS)
    yield env
    cli(env, "db", "stop", timeout=60)
    if os.environ.get("UI_TEST_KEEP_HOME"):
        print(f"kept {home}")
    else:
        shutil.rmtree(home.parent, ignore_errors=True)


class Timer:
    def __init__(self) -> None:
        self.start = self.last = time.monotonic()

    def lap(self, what: str) -> None:
        now = time.monotonic()
        print(f"[{now - self.start:6.1f} s] {what} (+{now - self.last:.1f} s)")
        self.last = now


def test_make_dev_ui_shows_workflows_and_pools_a_backfill_of_more_dates_than_tenants(
    chromium: str, dev_env: dict[str, str], screenshots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    timer = Timer()
    dates = backfill_dates()
    for day in dates:
        cli(dev_env, "seed", "--tenants", str(TENANTS), "--date", day.isoformat())
    engine = create_engine(with_driver(cli(dev_env, "db", "url").strip(), "psycopg"))
    with engine.connect() as conn:
        policies = dict(conn.execute(text("SELECT tenant_id, policy FROM tenants")).all())
    isolated = sorted(t for t, p in policies.items() if p.get("isolated"))
    pooled = sorted(t for t, p in policies.items() if not p.get("isolated"))
    assert len(policies) == TENANTS and isolated and pooled, policies
    timer.lap(f"seeded {TENANTS} tenants on {dates[0]}..{dates[-1]} (isolated: {isolated})")

    try:
        with dev_server(dev_env, Path(dev_env[HOME_ENV]).parent / "dev.log") as server:
            wait_for_code_location(server)
            timer.lap(f"webserver up at {server.url}, code location loaded")
            # The daemon's tenant_registry_sensor adds the tenant partitions on its first tick.
            tenant_order = wait_for(
                "tenant_registry_sensor to add the 4 tenant partitions",
                lambda: (keys := tenant_partitions(server)) and len(keys) == TENANTS and keys,
                timeout=120,
                every=2,
            )
            assert sorted(tenant_order) == sorted(policies)
            timer.lap("tenant partitions registered")

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=CHROMIUM_ARGS, headless=True
                )
                context = browser.new_context(viewport=VIEWPORT)
                # Dismiss the "join the community" prompt a first visit shows over every page.
                context.add_init_script(
                    "window.localStorage.setItem('communityNux', JSON.stringify('1'))"
                )
                context.set_default_timeout(60_000)
                page = context.new_page()

                # -- the asset graph: three workflows and the ledger
                show_asset_graph(page, server)
                graph = page.locator("foreignObject")
                for group, assets in WORKFLOW_ASSETS.items():
                    for name in (group, *assets):
                        # A group's header and an asset node each show their name once (the
                        # kb_index group holds the kb_index asset).
                        shown = graph.get_by_text(name, exact=True)
                        expect(shown).to_have_count(name_count(name))
                        expect(shown.first).to_be_visible()
                timer.lap("asset graph shows the 3 workflows and the ledger")

                # -- the backfill, through the asset's launch dialog
                page.goto(f"{server.url}/assets/post_call_requests")
                page.get_by_role("button", name="Materialize").first.click()
                dialog = page.get_by_role("dialog")
                expect(
                    dialog.get_by_text("Launch runs to materialize post_call_requests")
                ).to_be_visible()
                date_range = dialog.get_by_placeholder("ex: 2026-11-01", exact=False)
                date_range.fill(f"[{dates[0].isoformat()}...{dates[-1].isoformat()}]")
                date_range.press("Enter")
                # The second "All": every key of the tenant dimension.
                dialog.get_by_role("button", name="All", exact=True).nth(1).click()
                expect(dialog.get_by_text(f"{len(dates) * TENANTS} partitions")).to_be_visible()
                expect(
                    dialog.get_by_text("Backfills all partitions in a single run.")
                ).to_be_visible()
                page.screenshot(path=screenshots / "backfill-launch.png")
                with page.expect_response(
                    lambda r: (
                        "/graphql" in r.url
                        and "LaunchPartitionBackfill" in (r.request.post_data or "")
                    )
                ) as launched:
                    dialog.get_by_role("button", name="Launch backfill").click()
                sent = json.loads(launched.value.request.post_data)["variables"]["backfillParams"]
                result = launched.value.json()["data"]["launchPartitionBackfill"]
                assert result["__typename"] == "LaunchBackfillSuccess", result
                backfill_id = result["backfillId"]
                expect(page.get_by_text(f"Created backfill {backfill_id}")).to_be_visible()
                assert sent["assetSelection"] == [{"path": ["post_call_requests"]}]
                assert set(sent["partitionNames"]) == {
                    f"{d.isoformat()}|{t}" for d in dates for t in policies
                }
                timer.lap(f"backfill {backfill_id} launched from the UI")

                # -- the daemon runs it: one run per tenant (Dagster's cut), each only queueing
                targeted = {f"{d.isoformat()}|{t}" for d in dates for t in policies}
                runs = wait_for_backfill(server, backfill_id, targeted, tenant_order, timeout=480)
                timer.lap(f"backfill runs finished: {len(runs)}")
                check_one_run_per_tenant(runs, dates, tenant_order)

                # -- the submit sensor pools them across tenants, once the window has passed
                wait_for_post_call_done(server, engine, dates, timeout=480)
                timer.lap("every call of the dates analysed or dead-lettered")
                check_batches_pooled_across_tenants(engine, dates, pooled, isolated)
                timer.lap("batches checked")

                # Every run: the backfill's and those the sensors launched since (ingest, KB).
                page.set_viewport_size({"width": VIEWPORT["width"], "height": 1000})
                page.goto(f"{server.url}/runs")
                page.get_by_text("Show runs within backfills").click()
                expect(page.get_by_text(f"Backfill: {backfill_id}")).to_have_count(len(runs))
                page.screenshot(path=screenshots / "runs.png")
                page.set_viewport_size(VIEWPORT)
                show_asset_graph(page, server)
                page.screenshot(path=screenshots / "asset-graph.png")
                # The backfill daemon marks the backfill done on its next iteration (~30 s).
                page.set_viewport_size({"width": VIEWPORT["width"], "height": 700})
                page.goto(f"{server.url}/runs/b/{backfill_id}?tab=runs")
                expect(page.get_by_text("Succeeded", exact=True)).to_be_visible(timeout=90_000)
                expect(page.get_by_text("Success", exact=True)).to_have_count(len(runs))
                page.screenshot(path=screenshots / "backfill-runs.png")
                timer.lap(f"screenshots in {screenshots}")
                browser.close()
    finally:
        engine.dispose()
    timer.lap("dev server stopped")


# -- UI and GraphQL helpers ------------------------------------------------------------------------


def wait_for_code_location(server: DevServer) -> None:
    def loaded() -> bool:
        server.check_alive()
        entries = server.graphql(WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
        for entry in entries:
            error = entry["locationOrLoadError"]
            if error and error["__typename"] == "PythonError":
                raise AssertionError(f"code location failed to load: {error['message']}")
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

    wait_for("the webserver to serve the loaded code location", loaded, timeout=180, every=2)


def name_count(name: str) -> int:
    return (name in WORKFLOW_ASSETS) + sum(name in assets for assets in WORKFLOW_ASSETS.values())


def tenant_partitions(server: DevServer) -> list[str]:
    node = server.graphql(PARTITIONS_QUERY)["assetNodeOrError"]
    dims = {d["name"]: d["partitionKeys"] for d in node["partitionKeysByDimension"]}
    return dims["tenant"]


def show_asset_graph(page, server: DevServer) -> None:
    """The global asset lineage with every group expanded (⌥E, the UI's own shortcut; the choice is
    remembered, so the reload lays the expanded graph out to fit)."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}/asset-groups")
    graph = page.locator("foreignObject")
    graph.get_by_text("post_call", exact=True).first.wait_for()
    if not graph.get_by_text("call_analytics", exact=True).count():
        page.keyboard.press("Alt+e")
        graph.get_by_text("call_analytics", exact=True).wait_for()
        page.reload()
        graph.get_by_text("call_analytics", exact=True).wait_for()
    # Each node's partition status arrives after the layout.
    expect(graph.get_by_text("Loading...", exact=True)).to_have_count(0, timeout=60_000)


def wait_for_backfill(
    server: DevServer, backfill_id: str, targeted: set[str], tenant_order: list[str], timeout: float
) -> list[dict]:
    """The backfill's runs, once they have succeeded and together cover every targeted partition
    (so the backfill daemon has nothing left to launch: no need to wait for its next iteration to
    mark the backfill complete)."""

    def done() -> list[dict] | None:
        server.check_alive()
        backfill = server.graphql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        runs = backfill["runs"]
        failed = [r for r in runs if r["status"] in FAILED_RUN]
        assert not failed and backfill["status"] not in (
            "FAILED",
            "COMPLETED_FAILED",
            "CANCELED",
        ), f"backfill {backfill_id} {backfill['status']}, runs {runs}\n{server.log_tail()}"
        covered = set().union(*(run_partitions(r, tenant_order) for r in runs))
        if covered >= targeted and all(r["status"] == "SUCCESS" for r in runs):
            return runs
        return None

    try:
        return wait_for(f"backfill {backfill_id} to finish", done, timeout=timeout, every=3)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- dev log ---\n{server.log_tail()}") from None


def run_partitions(run: dict, tenant_order: list[str]) -> set[str]:
    """The date|tenant keys a run materializes: its range (Dagster's multi-partition range is the
    rectangle of its dates' range and its tenants' range, in partition order) or its partition."""
    tags = {t["key"]: t["value"] for t in run["tags"]}
    if RANGE_START not in tags:
        return {tags["dagster/partition"]} if "dagster/partition" in tags else set()
    (first_day, first_tenant), (last_day, last_tenant) = (
        tags[RANGE_START].split("|"),
        tags[RANGE_END].split("|"),
    )
    start, end = tenant_order.index(first_tenant), tenant_order.index(last_tenant)
    keys, day = set(), dt.date.fromisoformat(first_day)
    while day <= dt.date.fromisoformat(last_day):
        keys |= {f"{day.isoformat()}|{t}" for t in tenant_order[start : end + 1]}
        day += dt.timedelta(days=1)
    return keys


def check_one_run_per_tenant(
    runs: list[dict], dates: list[dt.date], tenant_order: list[str]
) -> None:
    """The single-run backfill policy cuts dates x tenants along the smaller dimension: with more
    dates than tenants, one ranged run per tenant over every date. (Were each run to submit its
    own partitions, no batch would hold two tenants.)"""
    ranges = []
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        assert RANGE_START in tags and RANGE_END in tags, (
            f"run {run['runId']} is not ranged: {tags}"
        )
        ranges.append((tags[RANGE_START], tags[RANGE_END]))
    expected = [
        (f"{dates[0].isoformat()}|{tenant}", f"{dates[-1].isoformat()}|{tenant}")
        for tenant in tenant_order
    ]
    assert sorted(ranges) == sorted(expected), f"runs: {sorted(ranges)}, expected {expected}"


def wait_for_post_call_done(
    server: DevServer, engine, dates: list[dt.date], timeout: float
) -> None:
    """Until every finished call of `dates` has its request ended: analysed (succeeded) or
    dead-lettered (or skipped, with a reason), nothing queued or in flight."""

    def done() -> bool:
        server.check_alive()
        with engine.connect() as conn:
            open_calls = conn.execute(
                text(
                    "SELECT count(*) FROM calls c LEFT JOIN batch_requests r"
                    " ON r.workflow = 'post_call' AND r.item_id = c.call_id"
                    " AND r.status IN ('succeeded', 'dead_letter', 'skipped')"
                    " WHERE c.ended_at IS NOT NULL"
                    " AND (c.ended_at AT TIME ZONE 'UTC')::date = ANY(:dates)"
                    " AND r.custom_id IS NULL"
                ),
                {"dates": dates},
            ).scalar_one()
        return open_calls == 0

    try:
        wait_for("every call of the backfill's dates to end", done, timeout=timeout, every=5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- dev log ---\n{server.log_tail()}") from None


def check_batches_pooled_across_tenants(
    engine, dates: list[dt.date], pooled: list[str], isolated: list[str]
) -> None:
    """The first attempts' batches: the shared credentials' ones hold only pooled tenants, the
    widest of them at least half of the pooled tenants and several dates (the issue's measure:
    priming may send a line per new cache prefix ahead); an isolated tenant's hold only its own
    calls; together exactly the dates' finished calls, each once; all submitted."""
    with engine.connect() as conn:
        jobs = conn.execute(
            text(
                "SELECT batch_job_id, credentials_ref, status, provider_batch_id, request_count,"
                " partitions FROM batch_jobs WHERE workflow = 'post_call'"
            )
        ).all()
        requests = conn.execute(
            text(
                "SELECT batch_job_id, tenant_id, item_id, partition_date FROM batch_requests"
                " WHERE workflow = 'post_call' AND attempt = 1"
            )
        ).all()
        finished_calls = conn.execute(
            text(
                "SELECT call_id FROM calls WHERE ended_at IS NOT NULL"
                " AND (ended_at AT TIME ZONE 'UTC')::date = ANY(:dates)"
            ),
            {"dates": dates},
        ).all()
    first = {r.batch_job_id for r in requests if r.batch_job_id}
    lines_of: dict[str, list] = {}
    for r in requests:
        lines_of.setdefault(r.batch_job_id, []).append(r)
    shared = []
    for job in (j for j in jobs if j.batch_job_id in first):
        tenants = {r.tenant_id for r in lines_of[job.batch_job_id]}
        assert job.provider_batch_id and job.status in ("submitted", "ended", "ingested"), (
            f"batch {job.batch_job_id} not submitted: {job.status}"
        )
        if job.credentials_ref == "default":
            assert tenants <= set(pooled), f"{job.batch_job_id} holds isolated tenants {tenants}"
            shared.append((len(tenants), {r.partition_date for r in lines_of[job.batch_job_id]}))
        else:
            assert tenants == {job.credentials_ref.removeprefix("tenant:")}, job
            assert job.credentials_ref.removeprefix("tenant:") in isolated
    widest, widest_dates = max(shared, key=lambda entry: entry[0])
    assert widest >= len(pooled) / 2, f"the widest shared batch serves {widest} of {pooled}"
    assert len(widest_dates) > 1, f"the widest shared batch holds one date: {widest_dates}"
    sent = sorted(r.item_id for r in requests if r.partition_date in dates)
    assert sent == sorted(c.call_id for c in finished_calls), "calls sent != calls finished"
