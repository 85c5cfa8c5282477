"""Which injected fault, if any, a batch line gets: one decision shared by both providers.

Each fault is decided by hashing the batch's seed with the provider, the batch's create ordinal
and the line's custom_id, so a line fails the same way however often results are generated.
Faults a real request would meet first come first: an invalid request is refused before it runs,
a timeout or a server error happens while it runs.
"""

from __future__ import annotations

from typing import Any, Literal

from .answers import chance

Fault = Literal["invalid_request", "timeout", "server_error"]


def injected_fault(
    settings: dict[str, Any], provider: str, seq: int, custom_id: str
) -> Fault | None:
    """The fault the flags snapshotted in `settings` inject into this line (None: none).

    `timeout` (OpenAI `request_timeout`) exists only for OpenAI lines: Anthropic documents no
    per-request timeout outcome in Message Batches."""
    invalid = settings.get("invalid_request_rate", 0.0)
    timeout = settings.get("timeout_rate", 0.0) if provider == "openai" else 0.0
    server = settings.get("line_error_rate", 0.0)
    if not (invalid or timeout or server):  # the common case: no hashing per line
        return None
    seed = settings["seed"]
    if chance(invalid, seed, "invalid", provider, seq, custom_id):
        return "invalid_request"
    if chance(timeout, seed, "timeout", provider, seq, custom_id):
        return "timeout"
    if chance(server, seed, "line_error", provider, seq, custom_id):
        return "server_error"
    return None
