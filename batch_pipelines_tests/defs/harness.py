"""The tests drive the code location with the same loop `batch-pipelines run-day` uses."""

from batch_pipelines.daemon_loop import DaemonLoop as Daemon

__all__ = ["Daemon"]
