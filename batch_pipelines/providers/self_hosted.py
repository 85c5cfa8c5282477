"""A self-hosted OpenAI-compatible server (vLLM, TGI) used like a batch provider.

Such servers batch continuously on the GPU: what keeps the GPU full is enough requests in flight,
not one big file. `create` therefore drives the lines through the server's synchronous endpoint
with bounded concurrency and keeps the answers, in the OpenAI batch output shape, in Postgres
(`self_hosted_results`): the deployment runs each run in its own pod, and the poll and the ingest
of the job may run on another machine than the submit. The answers of one create commit together
when the last one is in, so a create that died midway left nothing (and reconciliation finds
nothing to adopt). The batch is `ended` as soon as `create` returns. The GPU's cost is allocated
afterwards by the ledger, per window, by each request's share of the tokens processed
(mode `self_hosted`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import openai
import orjson
from sqlalchemy import Engine, func, select

from batch_pipelines.core.prompts import Prompt
from batch_pipelines.db import get_engine
from batch_pipelines.db.bulk import copy_rows
from batch_pipelines.db.tables import self_hosted_results
from batch_pipelines.providers.base import (
    BatchProvider,
    BatchState,
    BatchStatus,
    ProviderError,
    RequestLines,
    ResultLine,
    ShardLimits,
)
from batch_pipelines.providers.openai_batch import CHAT, EMBEDDINGS, OpenAIBatchProvider

_LIMITS = ShardLimits(max_lines=10_000, max_bytes=200_000_000, max_embedding_inputs=50_000)
_COLUMNS = ("provider_batch_id", "line_number", "batch_job_id", "custom_id", "status_code", "line")
# Lines read ahead of the answers per worker: enough to keep every worker busy, never the shard.
_READ_AHEAD = 4


def _endpoint(provider_batch_id: str) -> str:
    return EMBEDDINGS if provider_batch_id.startswith("selfhosted_emb_") else CHAT


class SelfHostedProvider(BatchProvider):
    name = "self_hosted"

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        concurrency: int = 16,
        engine: Callable[[], Engine] = get_engine,
    ) -> None:
        self.client = client
        self.concurrency = concurrency
        self._engine = engine  # the project's database, where the answers are kept
        self._lines = OpenAIBatchProvider(client)

    def limits(self, endpoint: str) -> ShardLimits:
        return _LIMITS

    def encode_line(self, custom_id: str, model: str, endpoint: str, prompt: Prompt) -> bytes:
        return self._lines.encode_line(custom_id, model, endpoint, prompt)

    def upload(self, batch_job_id: str, lines: RequestLines) -> str | None:
        return None

    def create(
        self,
        batch_job_id: str,
        endpoint: str,
        input_file_id: str | None,
        lines: RequestLines | None,
    ) -> BatchStatus:
        # The id names the endpoint so that reading results back knows how to parse them.
        kind = "emb" if endpoint == EMBEDDINGS else "chat"
        batch_id = f"selfhosted_{kind}_{batch_job_id}_{secrets.token_hex(4)}"
        created = dt.datetime.now(dt.UTC)
        path = "/embeddings" if endpoint == EMBEDDINGS else "/chat/completions"
        counts = {"completed": 0, "failed": 0}

        def rows() -> Iterator[tuple]:
            requests = (orjson.loads(line) for line in lines or ())
            number = 0
            with ThreadPoolExecutor(self.concurrency) as pool:
                while batch := list(islice(requests, self.concurrency * _READ_AHEAD)):
                    answers = pool.map(lambda r: self._call(path, r["body"]), batch)
                    for request, (status_code, body) in zip(batch, answers, strict=True):
                        counts["completed" if status_code == 200 else "failed"] += 1
                        line = {
                            "custom_id": request["custom_id"],
                            "response": {"status_code": status_code, "body": body},
                            "error": None,
                        }
                        yield (
                            batch_id,
                            number,
                            batch_job_id,
                            request["custom_id"],
                            status_code,
                            orjson.dumps(line).decode(),
                        )
                        number += 1

        with self._engine().begin() as conn:
            copy_rows(conn, self_hosted_results.name, _COLUMNS, rows())
        return self._status(batch_id, created, counts["completed"], counts["failed"], endpoint)

    def _call(self, path: str, body: dict) -> tuple[int, dict]:
        try:
            return 200, self.client.post(path, body=body, cast_to=object)  # type: ignore[return-value]
        except openai.APIStatusError as exc:
            return exc.status_code, {"error": {"message": str(exc), "code": None}}
        except openai.APIError as exc:
            return 599, {"error": {"message": str(exc), "code": "connection_error"}}

    def _status(
        self, batch_id: str, created: dt.datetime, succeeded: int, failed: int, endpoint: str
    ) -> BatchStatus:
        return BatchStatus(
            provider_batch_id=batch_id,
            state=BatchState.ENDED,
            provider_status="completed",
            created_at=created,
            request_counts={"total": succeeded + failed, "completed": succeeded, "failed": failed},
            output_file_id=batch_id,
            metadata={"endpoint": endpoint},
        )

    def _summaries(self, *where) -> Iterable:
        query = (
            select(
                self_hosted_results.c.provider_batch_id,
                func.count().label("lines"),
                func.count().filter(self_hosted_results.c.status_code == 200).label("ok"),
                func.min(self_hosted_results.c.created_at).label("created_at"),
            )
            .where(*where)
            .group_by(self_hosted_results.c.provider_batch_id)
            .order_by(self_hosted_results.c.provider_batch_id)
        )
        with self._engine().connect() as conn:
            return conn.execute(query).all()

    def find_created(
        self,
        batch_job_id: str,
        created_after: dt.datetime,
        created_before: dt.datetime,
        request_count: int,
    ) -> list[BatchStatus]:
        # The stored answers are the record: a finished run for this job can be adopted.
        return [
            self._status(
                row.provider_batch_id,
                row.created_at,
                row.ok,
                row.lines - row.ok,
                _endpoint(row.provider_batch_id),
            )
            for row in self._summaries(self_hosted_results.c.batch_job_id == batch_job_id)
            if row.lines == request_count
        ]

    def retrieve(self, provider_batch_id: str) -> BatchStatus:
        found = self._summaries(self_hosted_results.c.provider_batch_id == provider_batch_id)
        if not found:
            raise ProviderError(f"no self-hosted answers for batch {provider_batch_id}")
        (row,) = found
        return self._status(
            provider_batch_id,
            row.created_at,
            row.ok,
            row.lines - row.ok,
            _endpoint(provider_batch_id),
        )

    def cancel(self, provider_batch_id: str) -> BatchStatus:
        return self.retrieve(provider_batch_id)

    def iter_results(self, status: BatchStatus) -> Iterator[ResultLine]:
        endpoint = status.metadata.get("endpoint", CHAT)
        query = (
            select(self_hosted_results.c.line)
            .where(self_hosted_results.c.provider_batch_id == status.provider_batch_id)
            .order_by(self_hosted_results.c.line_number)
        )
        with self._engine().connect() as conn:
            for raw in conn.execution_options(stream_results=True, yield_per=500).execute(query):
                yield self._lines.parse_line(raw.line, endpoint)

    def complete_sync(
        self, custom_id: str, model: str, endpoint: str, prompt: Prompt
    ) -> ResultLine:
        return self._lines.complete_sync(custom_id, model, endpoint, prompt)
