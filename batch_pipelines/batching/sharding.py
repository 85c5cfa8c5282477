"""Cutting one group of request lines into provider batches at the provider's limits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from batch_pipelines.providers.base import ShardLimits

T = TypeVar("T")


@dataclass(frozen=True)
class Sized(Generic[T]):
    """A line with what counts against the limits: its bytes, its embedding inputs, and the input
    tokens it takes of the model's enqueued-token limit."""

    value: T
    nbytes: int
    embedding_inputs: int = 0
    input_tokens: int = 0


def shard(lines: Iterable[Sized[T]], limits: ShardLimits) -> Iterator[list[T]]:
    """Greedy, order-preserving shards: adjacent lines (sharing a prompt prefix) stay together.

    A single line larger than a whole shard's byte budget cannot be sent at all; it is the caller's
    job to reject such lines before sharding (`ValueError` here says which).
    """
    current: list[T] = []
    nbytes = inputs = tokens = 0
    for line in lines:
        if line.nbytes > limits.max_bytes:
            raise ValueError(f"a request line of {line.nbytes} bytes exceeds the batch byte limit")
        over_inputs = (
            limits.max_embedding_inputs is not None
            and inputs + line.embedding_inputs > limits.max_embedding_inputs
        )
        over_tokens = (
            limits.max_input_tokens is not None
            and tokens + line.input_tokens > limits.max_input_tokens
        )
        if current and (
            len(current) >= limits.max_lines
            or nbytes + line.nbytes > limits.max_bytes
            or over_inputs
            or over_tokens
        ):
            yield current
            current, nbytes, inputs, tokens = [], 0, 0, 0
        current.append(line.value)
        nbytes += line.nbytes
        inputs += line.embedding_inputs
        tokens += line.input_tokens
    if current:
        yield current
