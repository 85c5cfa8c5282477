"""Dagster wiring only: assets, checks, sensors, schedules, resources, partitions, per domain."""
