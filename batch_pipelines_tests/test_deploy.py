"""The Kubernetes deployment in deploy/: the Dagster instance the official chart renders from
deploy/values.yaml is valid for Dagster's own schemas (the instance, K8sRunLauncher with dagster-k8s
installed, the queued run coordinator, S3 compute logs, the Postgres storages), and the image, the
migrations Job, the secret and the values agree with each other and with the project.

No Helm and no Docker engine here: `chart_instance` renders the instance ConfigMap the way the chart's
templates do (helm/dagster/templates/configmap-instance.yaml and helpers/instance/*.tpl of
dagster-io/dagster at 1.13), for the values deploy/values.yaml sets, and refuses any value it does not
know, so a typo fails here rather than in the cluster. With Helm at hand, the rendered ConfigMap
itself can be checked: `python -m batch_pipelines.defs.instance_check dagster.yaml`.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from batch_pipelines.defs.instance_check import instance_config_errors

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
RELEASE = "dagster"  # `helm upgrade --install dagster dagster/dagster …`
NAMESPACE = "batch-pipelines"
CHART_DAGSTER_HOME = "/opt/dagster/dagster_home"  # the chart's global.dagsterHome default
SECRET = "batch-pipelines-secrets"


def load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


def _only(section: dict, known: set[str], where: str) -> dict:
    unknown = set(section) - known
    assert not unknown, f"{where}: the chart does not render {sorted(unknown)}"
    return section


def chart_instance(values: dict) -> dict:
    """The dagster.yaml the chart renders into its `<release>-instance` ConfigMap from `values`
    (only the settings deploy/values.yaml uses; the chart's defaults fill the rest)."""
    glob = values["global"]
    pg = _only(
        values["postgresql"],
        {
            "enabled",
            "postgresqlHost",
            "postgresqlUsername",
            "postgresqlDatabase",
            "postgresqlScheme",
            "postgresqlParams",
            "service",
        },
        "postgresql",
    )
    postgres = {
        "postgres_db": {
            "username": pg["postgresqlUsername"],
            "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": pg["postgresqlHost"],
            "db_name": pg["postgresqlDatabase"],
            "port": pg["service"]["port"],
            "params": pg.get("postgresqlParams") or {},
            **({"scheme": pg["postgresqlScheme"]} if pg.get("postgresqlScheme") else {}),
        }
    }

    def storage(module: str, cls: str) -> dict:
        return {"module": f"dagster_postgres.{module}", "class": cls, "config": postgres}

    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    k8s = _only(
        values["runLauncher"]["config"]["k8sRunLauncher"],
        {"loadInclusterConfig", "imagePullPolicy", "envSecrets", "runK8sConfig", "jobNamespace"},
        "runLauncher.config.k8sRunLauncher",
    )
    launcher_config = {
        "load_incluster_config": k8s["loadInclusterConfig"],
        "job_namespace": k8s.get("jobNamespace") or NAMESPACE,
        "image_pull_policy": k8s["imagePullPolicy"],
        "service_account_name": glob["serviceAccountName"],
        "dagster_home": CHART_DAGSTER_HOME,
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": glob["postgresqlSecretName"],
        "env_secrets": [s["name"] for s in k8s.get("envSecrets", [])],
    }
    if "runK8sConfig" in k8s:
        run_config = _only(k8s["runK8sConfig"], {"containerConfig"}, "runK8sConfig")
        launcher_config["run_k8s_config"] = {"container_config": run_config["containerConfig"]}

    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] and daemon["runCoordinator"]["enabled"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    queued = _only(
        daemon["runCoordinator"]["config"]["queuedRunCoordinator"],
        {"dequeueIntervalSeconds"},
        "queuedRunCoordinator",
    )
    monitoring = _only(daemon["runMonitoring"], {"enabled", "startTimeoutSeconds"}, "runMonitoring")
    retries = _only(daemon["runRetries"], {"enabled", "maxRetries"}, "runRetries")
    sensors = _only(daemon["sensors"], {"useThreads", "numWorkers"}, "sensors")

    assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
    s3 = _only(
        values["computeLogManager"]["config"]["s3ComputeLogManager"],
        {"bucket", "prefix", "region", "endpointUrl"},
        "s3ComputeLogManager",
    )
    s3_names = {
        "bucket": "bucket",
        "prefix": "prefix",
        "region": "region",
        "endpointUrl": "endpoint_url",
    }

    concurrency = _only(values["concurrency"], {"enabled", "runs", "pools"}, "concurrency")
    assert concurrency["enabled"]
    runs = _only(concurrency["runs"], {"maxConcurrentRuns", "tagConcurrencyLimits"}, "runs")
    pools = _only(concurrency["pools"], {"defaultLimit", "granularity"}, "pools")

    return {
        "scheduler": {"module": "dagster.core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": storage("schedule_storage", "PostgresScheduleStorage"),
        "run_storage": storage("run_storage", "PostgresRunStorage"),
        "event_log_storage": storage("event_log", "PostgresEventLogStorage"),
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": launcher_config,
        },
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"dequeue_interval_seconds": queued["dequeueIntervalSeconds"]},
        },
        "compute_logs": {
            "module": "dagster_aws.s3.compute_log_manager",
            "class": "S3ComputeLogManager",
            "config": {s3_names[k]: v for k, v in s3.items()} | {"verify": True},
        },
        "run_monitoring": {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
        },
        "run_retries": {"enabled": retries["enabled"], "max_retries": retries["maxRetries"]},
        "sensors": {"use_threads": sensors["useThreads"], "num_workers": sensors["numWorkers"]},
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
        "concurrency": {
            "pools": {"default_limit": pools["defaultLimit"], "granularity": pools["granularity"]},
            "runs": {
                "max_concurrent_runs": runs["maxConcurrentRuns"],
                "tag_concurrency_limits": runs["tagConcurrencyLimits"],
            },
        },
    }


@pytest.fixture
def pod_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the chart puts in every pod from the secret, for the `{env: …}` values."""
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "from-the-secret")


def test_the_instance_the_chart_renders_is_valid_for_dagster_and_k8s(pod_env) -> None:
    instance = chart_instance(load("values.yaml"))
    assert instance_config_errors(instance) == []
    # The settings this deployment relies on are the chart's to render, so they are in the values.
    limits = instance["concurrency"]["runs"]["tag_concurrency_limits"]
    assert limits == [{"key": "provider", "value": {"applyLimitPerUniqueValue": True}, "limit": 4}]
    assert instance["run_launcher"]["config"]["env_secrets"] == [SECRET]
    assert instance["compute_logs"]["class"] == "S3ComputeLogManager"  # logs outlive the pods


def test_the_check_finds_what_the_old_deploy_config_lacked(pod_env) -> None:
    """The earlier deploy/dagster.yaml had a K8sRunLauncher without `instance_config_map`, and
    nothing noticed; the check names it (and an unknown instance key, and an unknown class)."""
    instance = chart_instance(load("values.yaml"))
    del instance["run_launcher"]["config"]["instance_config_map"]
    errors = instance_config_errors(instance)
    assert any("K8sRunLauncher" in e and '"instance_config_map"' in e for e in errors), errors
    assert instance_config_errors({**instance, "run_queue_typo": {}})
    broken = chart_instance(load("values.yaml"))
    broken["compute_logs"]["class"] = "S3ComputeLogMgr"
    assert any("cannot be imported" in e for e in instance_config_errors(broken))


def test_a_value_the_chart_does_not_render_fails() -> None:
    values = load("values.yaml")
    values["dagsterDaemon"]["runRetries"]["retryOnAssetOrOpFailure"] = False
    with pytest.raises(AssertionError, match="retryOnAssetOrOpFailure"):
        chart_instance(values)


def test_the_image_installs_the_project_with_its_pinned_deploy_extra() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert 'pip install ".[deploy]"' in dockerfile
    extra = project["project"]["optional-dependencies"]["deploy"]
    library_version = version("dagster-postgres")  # the 0.29.N that goes with dagster 1.13.N
    assert f"dagster-k8s=={library_version}" in extra
    assert f"dagster-aws=={library_version}" in extra
    assert "batch_pipelines[deploy]" in project["project"]["optional-dependencies"]["dev"]
    assert re.search(r"^\s*BATCH_PIPELINES_DEPLOYMENT=kubernetes", dockerfile, re.M)
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for path in shlex.split(source):
            assert (REPO / path).exists(), path
    # The chart starts the code server on the module the project declares.
    module = project["tool"]["dagster"]["module_name"]
    deployment = load("values.yaml")["dagster-user-deployments"]["deployments"][0]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", module]
    assert f'"--module-name", "{module}"' in dockerfile


def test_the_migrations_job_the_secret_and_the_values_agree() -> None:
    values = load("values.yaml")
    deployment = values["dagster-user-deployments"]["deployments"][0]
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    job = load("migrate-job.yaml")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["batch-pipelines", "db", "upgrade"]
    assert container["image"] == image
    assert container["envFrom"] == [{"secretRef": {"name": SECRET}}]
    assert deployment["envSecrets"] == [{"name": SECRET}]
    assert values["global"]["postgresqlSecretName"] == SECRET

    secret = load("secrets.example.yaml")
    assert secret["metadata"]["name"] == SECRET
    data = secret["stringData"]
    for required in ("BATCH_PIPELINES_DATABASE_URL", "BATCH_PIPELINES_CUSTOM_ID_SECRET"):
        assert required in data
    # The project's URL names the server, user, database and password Dagster's storage uses.
    url, pg = urlsplit(data["BATCH_PIPELINES_DATABASE_URL"]), values["postgresql"]
    assert (url.hostname, url.port, url.username, url.path.lstrip("/")) == (
        pg["postgresqlHost"],
        pg["service"]["port"],
        pg["postgresqlUsername"],
        pg["postgresqlDatabase"],
    )
    assert url.password == data["postgresql-password"]
