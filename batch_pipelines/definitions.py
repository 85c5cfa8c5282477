"""The code location: every definition under `batch_pipelines/defs/`."""

import dagster as dg

import batch_pipelines.defs


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_defs(defs_root=batch_pipelines.defs)
