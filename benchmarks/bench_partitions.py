"""`partitions`: the Dagster face at 500 tenants × 90 dates (45,000 partitions per date × tenant asset).

Set up once (not timed): a Dagster instance on its own Postgres database with 500 tenant partitions,
date partitions starting 89 days before today (`BATCH_PIPELINES_PARTITIONS_START`; with today, 90
dates), and materializations of `post_call_requests` recorded for the last 9 dates of every tenant
(4,500 partitions, so the status the asset page draws has both kinds). A `dagster-webserver` serves
the code location on that instance; nothing runs it (no daemon: launched runs only queue).

Measured (median of the repeats):
- `partitions/definitions_load`: a fresh Python process importing the code location and resolving
  its asset graph (what every code server, run worker and sensor tick process starts with);
- `partitions/asset_page`: the GraphQL query of the asset page's partition overview (the keys of
  both dimensions, the materialization status of every partition, the counts), and
  `partitions/asset_page_first`, the first such query of the webserver (before Dagster's cached
  partition status is warm);
- `partitions/backfill_launch`: the `launchPartitionBackfill` mutation the launch dialog sends for
  every date × every tenant (45,000 keys), as the UI does.

The figures have no floor: they are compared across runs (`benchmarks/results/`), and the README
states the ceiling they support.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dagster as dg
import yaml

from batch_pipelines.db import dagster_storage_url
from batch_pipelines.db.settings import DAGSTER_STORAGE_URL_ENV, DATABASE_URL_ENV, HOME_ENV
from batch_pipelines.defs.tenants.partitions import PARTITIONS_START_ENV
from benchmarks.harness import REPO_ROOT, BenchServer, Figure, log

TENANTS = 500
DATES = 90
# How far past the ceiling to look: `BENCH_PARTITIONS_TENANTS=2000` makes 180,000 partitions.
TENANTS_ENV = "BENCH_PARTITIONS_TENANTS"
MATERIALIZED_DATES = 9
ASSET = "post_call_requests"

ASSET_PAGE_QUERY = """query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
    partitionKeysByDimension { name partitionKeys }
    partitionStats { numMaterialized numPartitions numFailed numMaterializing }
    assetPartitionStatuses { __typename
      ... on MultiPartitionStatuses { primaryDimensionName ranges {
        primaryDimStartKey primaryDimEndKey
        secondaryDim { __typename ... on DefaultPartitionStatuses { materializedPartitions } } } }
    } } } }"""
LAUNCH_MUTATION = """mutation ($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) { __typename
    ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
LOAD_SCRIPT = (
    "import time; t = time.perf_counter(); "
    "from batch_pipelines.definitions import defs; defs().resolve_asset_graph(); "
    "print(time.perf_counter() - t)"
)


def run(server: BenchServer, scale: float, repeats: int) -> list[Figure]:
    tenants = int(os.environ.get(TENANTS_ENV) or max(4, round(TENANTS * scale)))
    dates = max(2, round(DATES * scale))
    materialized = max(1, round(MATERIALIZED_DATES * scale))
    today = dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=dates - 1)
    db = server.create("partitions")
    url = server.url_of(db)
    with tempfile.TemporaryDirectory(prefix="bench-partitions-") as home:
        env = {
            **os.environ,
            DATABASE_URL_ENV: url,
            DAGSTER_STORAGE_URL_ENV: dagster_storage_url(url),
            PARTITIONS_START_ENV: start.isoformat(),
            HOME_ENV: str(server.home),
            "DAGSTER_HOME": home,
        }
        config = {
            "storage": {"postgres": {"postgres_url": dagster_storage_url(url)}},
            "run_coordinator": {
                "module": "dagster.core.run_coordinator",
                "class": "QueuedRunCoordinator",
            },
            "telemetry": {"enabled": False},
        }
        Path(home, "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        tenant_keys = [f"tenant-{n:04d}" for n in range(tenants)]
        keys = [
            f"{(start + dt.timedelta(days=d)).isoformat()}|{t}"
            for d in range(dates)
            for t in tenant_keys
        ]
        _set_up(home, tenant_keys, keys[-materialized * tenants :])
        log(f"partitions: {tenants} tenants x {dates} dates = {len(keys):,} keys")

        loads = [_definitions_load(env) for _ in range(repeats)]
        with _webserver(env) as graphql:
            pages = []
            for _ in range(repeats + 1):
                seconds, data = _timed(lambda: graphql(ASSET_PAGE_QUERY, {"path": [ASSET]}))
                stats = data["assetNodeOrError"]["partitionStats"]
                assert stats["numPartitions"] == len(keys), stats
                assert stats["numMaterialized"] == materialized * tenants, stats
                pages.append(seconds)
            launches = []
            params = {"assetSelection": [{"path": [ASSET]}], "partitionNames": keys}
            for _ in range(repeats):
                seconds, data = _timed(lambda: graphql(LAUNCH_MUTATION, {"params": params}))
                outcome = data["launchPartitionBackfill"]
                assert outcome["__typename"] == "LaunchBackfillSuccess", outcome
                launches.append(seconds)
    server.drop(db)
    note = f"{tenants} tenants x {dates} dates = {len(keys):,} partitions"
    return [
        Figure("partitions/definitions_load", round(statistics.median(loads), 3), "s", note=note),
        Figure("partitions/asset_page_first", round(pages[0], 3), "s", note=note),
        Figure("partitions/asset_page", round(statistics.median(pages[1:]), 3), "s", note=note),
        Figure("partitions/backfill_launch", round(statistics.median(launches), 3), "s", note=note),
    ]


def _set_up(home: str, tenant_keys: list[str], materialized: list[str]) -> None:
    instance = dg.DagsterInstance.from_config(home)
    try:
        instance.add_dynamic_partitions("tenants", tenant_keys)
        for key in materialized:
            instance.report_runless_asset_event(dg.AssetMaterialization(ASSET, partition=key))
    finally:
        instance.dispose()


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _definitions_load(env: dict[str, str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


class _webserver:
    """`dagster-webserver` on the code location and the instance of `env`, and a GraphQL caller."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __enter__(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()
        webserver = Path(sys.executable).with_name("dagster-webserver")
        self.process = subprocess.Popen(
            [
                str(webserver),
                "-m",
                "batch_pipelines.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=self.env,
            cwd=REPO_ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dagster-webserver exited: {self._log_tail()}")
            try:
                self.graphql("{ version }")
                return self.graphql
            except OSError:
                time.sleep(1)
        raise RuntimeError(f"dagster-webserver did not answer in 180 s: {self._log_tail()}")

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def _log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
