"""Check a Dagster instance configuration (a dagster.yaml) against Dagster's own schemas, without
starting anything: the instance schema, then each configurable class's (run launcher, run
coordinator, compute logs, storages) after importing it, as the instance would on start-up.

Use it on what the Helm chart renders (``helm template … --show-only
templates/configmap-instance.yaml``, the ``dagster.yaml`` key) before a deploy:
``python -m batch_pipelines.defs.instance_check dagster.yaml``. Values read from the environment
(``{env: DAGSTER_PG_PASSWORD}``) must be set for the check, as in the pods.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dagster._config import validate_config
from dagster._core.definitions.definition_config_schema import (
    convert_user_facing_definition_config_schema,
)
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._utils import convert_dagster_submodule_name

__all__ = ["instance_config_errors"]

# Sections holding a configurable class ({module, class, config}).
_CLASS_SECTIONS = (
    "run_launcher",
    "run_coordinator",
    "compute_logs",
    "run_storage",
    "event_log_storage",
    "schedule_storage",
    "scheduler",
)


def instance_config_errors(config: Mapping[str, Any]) -> list[str]:
    """Every problem Dagster would find loading this instance configuration (empty: none)."""
    with tempfile.TemporaryDirectory() as home:
        Path(home, "dagster.yaml").write_text(yaml.safe_dump(dict(config)), encoding="utf-8")
        try:
            dagster_instance_config(home)
        except DagsterInvalidConfigError as error:
            return [str(error), *(e.message for e in error.errors)]
    errors = []
    for section in _CLASS_SECTIONS:
        value = config.get(section)
        if not value:
            continue
        where = f"{section} ({value['module']}.{value['class']})"
        # As the instance loads it: `dagster.core.…` (the chart's spelling) is `dagster._core.…`.
        module = convert_dagster_submodule_name(value["module"], "private")
        try:
            cls = getattr(importlib.import_module(module), value["class"])
        except (ImportError, AttributeError) as error:
            errors.append(f"{where}: cannot be imported: {error}")
            continue
        schema = convert_user_facing_definition_config_schema(cls.config_type())
        result = validate_config(schema.config_type, value.get("config") or {})
        errors += [f"{where}: {e.message}" for e in result.errors or ()]
    return errors


def main(argv: list[str] | None = None) -> int:
    paths = argv if argv is not None else sys.argv[1:]
    if len(paths) != 1:
        print("usage: python -m batch_pipelines.defs.instance_check DAGSTER_YAML", file=sys.stderr)
        return 2
    errors = instance_config_errors(yaml.safe_load(Path(paths[0]).read_text(encoding="utf-8")))
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if not errors:
        print(f"{paths[0]}: valid for Dagster's instance and every class it names")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
