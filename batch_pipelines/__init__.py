"""batch_pipelines."""
