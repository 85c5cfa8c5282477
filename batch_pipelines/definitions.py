"""The code location: every definition under `batch_pipelines/defs/`."""

import dagster as dg

import batch_pipelines.defs


@dg.definitions
def defs() -> dg.Definitions:
    # Steps are light (they call the engine and wait on Postgres): running them in the run's own
    # process saves a Python start-up per step.
    return dg.Definitions.merge(
        dg.load_defs(defs_root=batch_pipelines.defs),
        dg.Definitions(executor=dg.in_process_executor),
    )
