"""The layer rule of DESIGN.md, checked on the source: `core/` imports nothing else of the project,
and no provider adapter imports the engine or the ledger (shared types live in `core/`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import batch_pipelines

PACKAGE = Path(batch_pipelines.__file__).parent


def _project_imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return {m for m in modules if m == "batch_pipelines" or m.startswith("batch_pipelines.")}


def _files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("path", _files("core"), ids=lambda p: p.name)
def test_core_imports_nothing_of_the_project(path: Path) -> None:
    assert {m for m in _project_imports(path) if not m.startswith("batch_pipelines.core")} == set()


@pytest.mark.parametrize("path", _files("providers"), ids=lambda p: p.name)
def test_providers_import_neither_engine_nor_ledger(path: Path) -> None:
    forbidden = {
        m
        for m in _project_imports(path)
        if m.startswith(("batch_pipelines.batching", "batch_pipelines.ledger"))
        or m.startswith(("batch_pipelines.workflows", "batch_pipelines.defs"))
    }
    assert forbidden == set()
