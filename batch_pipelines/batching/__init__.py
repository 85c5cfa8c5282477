"""The provider-agnostic batch engine: plan → shard → submit → poll → ingest → retry. No Dagster."""
