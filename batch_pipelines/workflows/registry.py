"""The implementation of each declared workflow (`core/workflows.py` says where it lives)."""

from __future__ import annotations

import importlib

from batch_pipelines.batching.workflow import Workflow
from batch_pipelines.core.workflows import WorkflowDeclaration

__all__ = ["build_workflow"]


def build_workflow(declared: WorkflowDeclaration) -> Workflow:
    """The declared class, built with the declared provider, model and endpoint."""
    module_name, _, class_name = declared.implementation.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ImportError(
            f"workflow {declared.name!r}: cannot import its implementation "
            f"{declared.implementation!r}: {error}"
        ) from error
    workflow = cls(provider=declared.provider, model=declared.model, endpoint=declared.endpoint)
    if workflow.name != declared.name:
        raise ValueError(
            f"{declared.implementation} names itself {workflow.name!r}, declared as "
            f"{declared.name!r}"
        )
    return workflow
