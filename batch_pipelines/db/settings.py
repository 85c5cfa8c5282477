"""Where the project keeps its state: the home folder and the database URL."""

from __future__ import annotations

import os
from pathlib import Path

DATABASE_URL_ENV = "BATCH_PIPELINES_DATABASE_URL"
# Dagster's instance storage (dagster.yaml's `postgres_url`), in the psycopg2 form it needs.
DAGSTER_STORAGE_URL_ENV = "DAGSTER_PG_URL"
HOME_ENV = "BATCH_PIPELINES_HOME"
# Set (to any value but "") in a deployment: the image in deploy/Dockerfile sets it to
# "kubernetes", so every container of it (code server, run pods, the migrations Job) is one.
DEPLOYMENT_ENV = "BATCH_PIPELINES_DEPLOYMENT"


class DeploymentConfigError(RuntimeError):
    """A deployment lacks a setting that only a laptop may default (it never falls back)."""

    def __init__(self, variable: str, fallback: str) -> None:
        deployment = os.environ.get(DEPLOYMENT_ENV, "")
        super().__init__(
            f"{variable} is not set, and this is a deployment ({DEPLOYMENT_ENV}={deployment}), "
            f"which never falls back to {fallback}: set {variable} on every container "
            "(deploy/ takes it from the Kubernetes secret batch-pipelines-secrets)"
        )
        self.variable = variable


def in_deployment() -> bool:
    """Whether this process runs in a deployment, as `BATCH_PIPELINES_DEPLOYMENT` says. (Not
    guessed from the environment: a CI runner on Kubernetes runs the test suite, which wants the
    embedded Postgres.)"""
    return bool(os.environ.get(DEPLOYMENT_ENV, "").strip())


def home_dir() -> Path:
    """`$BATCH_PIPELINES_HOME`, default `./.batch_pipelines`, created on first use."""
    home = Path(os.environ.get(HOME_ENV) or ".batch_pipelines").expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home
