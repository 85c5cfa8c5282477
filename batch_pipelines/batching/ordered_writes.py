"""Writing chunks on several connections at once, committed in their order.

The caller's thread reads the next chunk while up to `writers` earlier ones are written, each in a
transaction of its own on a connection of its own. The statements run in parallel, but each chunk
commits only after the one before it: however the work stops, what it committed is a prefix of the
chunks. On any failure no new chunk starts, the chunks in flight roll back and the failure is
raised. Transactions commit without waiting for the disk (`synchronous_commit = off`): the caller
ends with a synchronous commit that makes all of them durable at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, Engine

from batch_pipelines.db.bulk import set_async_commit

C = TypeVar("C")
R = TypeVar("R")


class _Stopped(Exception):
    """The work stopped before this chunk's turn to commit: it rolls back."""


def write_in_order(
    engine: Engine,
    chunks: Iterator[C],
    write: Callable[[Connection, C], R],
    *,
    writers: int,
    committed: Callable[[], None] | None = None,
) -> Iterator[R]:
    """`write(conn, chunk)` for each chunk, in a transaction each, committed in order; yields each
    one's result once it committed (in order). `committed` is called after each commit (a crash
    test's kill point)."""
    if writers <= 1:
        for chunk in chunks:
            with engine.begin() as conn:
                set_async_commit(conn)
                outcome = write(conn, chunk)
            if committed:
                committed()
            yield outcome
        return
    stop = threading.Event()
    previous = threading.Event()
    previous.set()  # the first chunk commits when it is ready
    pending: deque[Future[R]] = deque()

    def one(chunk: C, before: threading.Event, done: threading.Event) -> R:
        with engine.begin() as conn:
            set_async_commit(conn)
            outcome = write(conn, chunk)
            while not before.wait(0.05):
                if stop.is_set():
                    raise _Stopped
            if stop.is_set():
                raise _Stopped
        if committed:
            committed()
        done.set()
        return outcome

    with ThreadPoolExecutor(writers, thread_name_prefix="ordered-writer") as pool:
        try:
            for chunk in chunks:
                while pending and (len(pending) >= writers or pending[0].done()):
                    yield pending.popleft().result()
                done = threading.Event()
                pending.append(pool.submit(one, chunk, previous, done))
                previous = done
            while pending:
                yield pending.popleft().result()
        except BaseException:
            stop.set()  # the chunks waiting for their turn roll back
            for future in pending:
                future.cancel()
            raise
