"""Cutting one group of request lines into provider batches at the provider's limits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from batch_pipelines.providers.base import ShardLimits

T = TypeVar("T")


@dataclass(frozen=True)
class Sized(Generic[T]):
    """A line with what counts against the limits: its bytes and its embedding inputs."""

    value: T
    nbytes: int
    embedding_inputs: int = 0


def shard(
    lines: Iterable[Sized[T]], limits: ShardLimits, max_lines: int | None = None
) -> Iterator[list[T]]:
    """Greedy, order-preserving shards: adjacent lines (sharing a prompt prefix) stay together.

    A single line larger than a whole shard's byte budget cannot be sent at all; it is the caller's
    job to reject such lines before sharding (`ValueError` here says which).
    """
    line_cap = min(limits.max_lines, max_lines or limits.max_lines)
    current: list[T] = []
    nbytes = inputs = 0
    for line in lines:
        if line.nbytes > limits.max_bytes:
            raise ValueError(f"a request line of {line.nbytes} bytes exceeds the batch byte limit")
        over_inputs = (
            limits.max_embedding_inputs is not None
            and inputs + line.embedding_inputs > limits.max_embedding_inputs
        )
        if current and (
            len(current) >= line_cap or nbytes + line.nbytes > limits.max_bytes or over_inputs
        ):
            yield current
            current, nbytes, inputs = [], 0, 0
        current.append(line.value)
        nbytes += line.nbytes
        inputs += line.embedding_inputs
    if current:
        yield current


def split_in_half(items: Sequence[T]) -> int:
    """The shard size to retry with after a whole-batch failure: half, at least one."""
    return max(1, len(items) // 2)
