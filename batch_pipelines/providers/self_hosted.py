"""A self-hosted OpenAI-compatible server (vLLM, TGI) used like a batch provider.

Such servers batch continuously on the GPU: what keeps the GPU full is enough requests in flight,
not one big file. `create` therefore drives the lines through the server's synchronous endpoint
with bounded concurrency and spools the answers locally as JSONL in the OpenAI batch output shape;
the batch is `ended` as soon as `create` returns. The GPU's cost is allocated afterwards by the
ledger, per window, by each request's share of the tokens processed (mode `self_hosted`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import orjson

from batch_pipelines.core.prompts import Prompt
from batch_pipelines.db.settings import home_dir
from batch_pipelines.providers.base import (
    BatchProvider,
    BatchStatus,
    RequestLines,
    ResultLine,
    ShardLimits,
)
from batch_pipelines.providers.openai_batch import CHAT, EMBEDDINGS, OpenAIBatchProvider

_LIMITS = ShardLimits(max_lines=10_000, max_bytes=200_000_000, max_embedding_inputs=50_000)


def _endpoint(provider_batch_id: str) -> str:
    return EMBEDDINGS if provider_batch_id.startswith("selfhosted_emb_") else CHAT


def _results_dir() -> Path:
    path = home_dir() / "self_hosted"
    path.mkdir(parents=True, exist_ok=True)
    return path


class SelfHostedProvider(BatchProvider):
    name = "self_hosted"

    def __init__(self, client: openai.OpenAI, *, concurrency: int = 16) -> None:
        self.client = client
        self.concurrency = concurrency
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
        path = _results_dir() / f"{batch_id}.jsonl"
        path_part = path.with_suffix(".partial")
        requests = [orjson.loads(line) for line in lines or ()]
        path_suffix = "/embeddings" if endpoint == EMBEDDINGS else "/chat/completions"
        succeeded = failed = 0
        with open(path_part, "wb") as out, ThreadPoolExecutor(self.concurrency) as pool:
            for request, outcome in zip(
                requests,
                pool.map(lambda r: self._call(path_suffix, r["body"]), requests),
                strict=True,
            ):
                status_code, body = outcome
                succeeded += status_code == 200
                failed += status_code != 200
                out.write(
                    orjson.dumps(
                        {
                            "custom_id": request["custom_id"],
                            "response": {"status_code": status_code, "body": body},
                            "error": None,
                        }
                    )
                    + b"\n"
                )
        path_part.replace(path)
        return self._status(batch_id, created, succeeded, failed, endpoint)

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
            state="ended",
            provider_status="completed",
            created_at=created,
            request_counts={"total": succeeded + failed, "completed": succeeded, "failed": failed},
            output_file_id=batch_id,
            metadata={"endpoint": endpoint},
        )

    def find_created(
        self, batch_job_id: str, created_after: dt.datetime, request_count: int
    ) -> list[BatchStatus]:
        # The spooled results are the record: a finished run for this job can be adopted.
        found = []
        for path in sorted(_results_dir().glob(f"selfhosted_*_{batch_job_id}_*.jsonl")):
            with open(path, "rb") as handle:
                lines = [orjson.loads(line) for line in handle if line.strip()]
            if len(lines) == request_count:
                ok = sum(1 for line in lines if line["response"]["status_code"] == 200)
                found.append(
                    self._status(
                        path.stem, created_after, ok, len(lines) - ok, _endpoint(path.stem)
                    )
                )
        return found

    def retrieve(self, provider_batch_id: str) -> BatchStatus:
        path = _results_dir() / f"{provider_batch_id}.jsonl"
        with open(path, "rb") as handle:
            lines = [orjson.loads(line) for line in handle if line.strip()]
        ok = sum(1 for line in lines if line["response"]["status_code"] == 200)
        created = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        return self._status(
            provider_batch_id, created, ok, len(lines) - ok, _endpoint(provider_batch_id)
        )

    def cancel(self, provider_batch_id: str) -> BatchStatus:
        return self.retrieve(provider_batch_id)

    def iter_results(self, status: BatchStatus) -> Iterator[ResultLine]:
        endpoint = status.metadata.get("endpoint", "/v1/chat/completions")
        with open(_results_dir() / f"{status.provider_batch_id}.jsonl", "rb") as handle:
            for raw in handle:
                if raw.strip():
                    yield self._lines.parse_line(raw, endpoint)

    def complete_sync(
        self, custom_id: str, model: str, endpoint: str, prompt: Prompt
    ) -> ResultLine:
        return self._lines.complete_sync(custom_id, model, endpoint, prompt)
