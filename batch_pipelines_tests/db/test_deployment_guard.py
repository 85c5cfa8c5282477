"""In a deployment (`BATCH_PIPELINES_DEPLOYMENT` set, as deploy/Dockerfile sets it) the code never
falls back to what only a laptop may default: no embedded Postgres without a database URL, no
custom-id secret generated under the home, and no migrating by itself: the migrations Job runs
`batch-pipelines db upgrade`, and other code on a schema behind it stops with a clear error."""

from __future__ import annotations

import pytest

from batch_pipelines.batching import custom_ids
from batch_pipelines.cli import main
from batch_pipelines.db import engine as db_engine
from batch_pipelines.db.migrate import current_revision, head_revision
from batch_pipelines.db.settings import (
    DATABASE_URL_ENV,
    DEPLOYMENT_ENV,
    HOME_ENV,
    DeploymentConfigError,
)


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv(DEPLOYMENT_ENV, "kubernetes")
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    return tmp_path / "home"


def test_no_database_url_is_an_error_not_an_embedded_postgres(deployment, monkeypatch, capsys):
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    with pytest.raises(DeploymentConfigError, match=DATABASE_URL_ENV) as refused:
        db_engine.database_url()
    assert refused.value.variable == DATABASE_URL_ENV
    assert main(["db", "url"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: {DATABASE_URL_ENV} is not set" in err
    assert "never falls back to an embedded Postgres" in err
    assert not (deployment / "pg").exists()  # no server was started


def test_no_custom_id_secret_is_an_error_not_a_generated_one(deployment, monkeypatch) -> None:
    monkeypatch.delenv(custom_ids.SECRET_ENV, raising=False)
    with pytest.raises(DeploymentConfigError, match=custom_ids.SECRET_ENV):
        custom_ids.new_custom_id("acme", "post_call", "call-1", 1)
    assert not (deployment / "custom_id_secret").exists()
    monkeypatch.setenv(custom_ids.SECRET_ENV, "k" * 64)
    assert custom_ids.is_well_formed(custom_ids.new_custom_id("acme", "post_call", "call-1", 1))


def test_outside_a_deployment_the_laptop_defaults_still_apply(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(DEPLOYMENT_ENV, "")
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    monkeypatch.delenv(custom_ids.SECRET_ENV, raising=False)
    custom_ids._secret_from_home.cache_clear()
    try:
        assert custom_ids.is_well_formed(custom_ids.new_custom_id("acme", "post_call", "c", 1))
        assert (tmp_path / "custom_id_secret").exists()
    finally:
        custom_ids._secret_from_home.cache_clear()


def test_only_the_migrations_job_migrates_a_deployment(
    deployment, empty_database_url, monkeypatch, capsys
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, empty_database_url)
    with pytest.raises(db_engine.SchemaBehind, match="run the migrations Job"):
        db_engine.get_engine()
    assert current_revision(db_engine.get_engine(migrate=False)) is None  # untouched
    assert main(["db", "upgrade"]) == 0  # what deploy/migrate-job.yaml runs
    assert capsys.readouterr().out == f"database at revision {head_revision()}\n"
    db_engine.dispose_engines()
    assert current_revision(db_engine.get_engine()) == head_revision()
