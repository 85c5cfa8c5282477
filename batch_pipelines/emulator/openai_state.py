"""OpenAI Files, Batches and synchronous chat/embeddings: the state model behind `/v1`.

Lifecycle of a batch with `complete_after = C` seconds (snapshotted at create):

    [0, 0.1C)   validating   (request_counts 0/0/0; the create response is always `validating`)
    [0.1C, 0.9C) in_progress (request_counts move: lines finish at an even pace)
    [0.9C, C)   finalizing
    >= C        completed    (results generated once, streamed to disk, on first access)

A batch whose input failed validation goes `validating -> failed` at 0.1C with `errors`. An
expiring batch (fault or C > 24 h) stays `in_progress` and ends `expired`: lines finished before
expiry are in the output/error files, the rest are error-file lines with `error.code
"batch_expired"` and `response: null`. Cancel: `cancelling` for 0.1C, then `cancelled`; lines
finished before the cancel keep their results, the rest get `batch_cancelled` error lines.
`request_counts.failed` counts lines that failed (an HTTP error or `request_timeout`), never
expired or cancelled lines. Output and error files are not in input order (shuffled by the seed,
unless `ordered_results`). A create that would take the model's live batches past its
`enqueued_token_limit` goes `failed` with `token_limit_exceeded`. Responses and the batch's
`model` carry the dated snapshot name (`core.models.snapshot_of`). Validation error codes: see
`_scan_input`.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import orjson

from batch_pipelines.core.models import snapshot_of

from . import answers
from .caching import CacheSession, openai_chat_prompt_tokens, openai_chat_prompt_usage
from .errors import ApiError, WorkNeeded, bad_request
from .faults import injected_fault
from .runtime import Runtime
from .store import dumps, iter_jsonl, iter_jsonl_indexed, new_id

BATCH_ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
SUPPORTED_ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings")
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MAX_BATCH_LINES = 50_000
MAX_EMBEDDING_INPUTS = 50_000
MAX_BATCH_FILE_BYTES = 200 * 1024 * 1024
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_EMBEDDING_INPUTS_PER_REQUEST = 2048
BATCH_WINDOW = 86_400
BATCH_FILE_TTL = 30 * 86_400
MAX_REPORTED_ERRORS = 1000
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def _error(code: str, message: str, *, line: int | None = None, param: str | None = None) -> dict:
    return {"code": code, "message": message, "param": param, "line": line}


class OpenAIState:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.store = runtime.store

    # ------------------------------------------------------------ files

    def upload_file(
        self,
        source: IO[bytes],
        filename: str,
        purpose: str,
        expires_after_seconds: int | None = None,
    ) -> dict[str, Any]:
        if purpose not in UPLOAD_PURPOSES:
            raise bad_request(
                f"'{purpose}' is not one of {list(UPLOAD_PURPOSES)} - 'purpose'", param="purpose"
            )
        if purpose == "batch" and not filename.endswith(".jsonl"):
            raise bad_request(
                "Invalid file format for Batch API. Must be .jsonl",
                param="file",
                code="invalid_file_format",
            )
        file_id = new_id("file")
        path = self.store.file_path(file_id)
        size = 0
        with open(path, "wb") as handle:
            while chunk := source.read(1 << 20):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    handle.close()
                    path.unlink(missing_ok=True)
                    raise bad_request("File is too large: the maximum is 512 MB.", param="file")
                handle.write(chunk)
        now = int(self.rt.clock())
        if expires_after_seconds is not None:
            expires_at: int | None = now + int(expires_after_seconds)
        else:
            expires_at = now + BATCH_FILE_TTL if purpose == "batch" else None
        self._insert_file(file_id, purpose, filename, size, now, expires_at)
        return self.get_file(file_id)

    def _insert_file(
        self,
        file_id: str,
        purpose: str,
        filename: str,
        size: int,
        created: int,
        expires: int | None,
    ) -> None:
        seq = self.store.next_seq("oa_file")
        self.store.execute(
            "INSERT INTO oa_files (id, seq, purpose, filename, bytes, created_at, expires_at, status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'processed')",
            (file_id, seq, purpose, filename, size, created, expires),
        )

    def _file_row(self, file_id: str) -> tuple:
        row = self.store.one(
            "SELECT id, purpose, filename, bytes, created_at, expires_at, status, seq FROM oa_files"
            " WHERE id = ? AND deleted = 0",
            (file_id,),
        )
        if row is None or (row[5] is not None and row[5] <= self.rt.clock()):
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return row

    @staticmethod
    def _file_object(row: tuple) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": row[0],
            "object": "file",
            "bytes": row[3],
            "created_at": row[4],
            "filename": row[2],
            "purpose": row[1],
            "status": row[6],
        }
        if row[5] is not None:
            obj["expires_at"] = row[5]
        return obj

    def get_file(self, file_id: str) -> dict[str, Any]:
        return self._file_object(self._file_row(file_id))

    def file_content_path(self, file_id: str) -> Path:
        self._file_row(file_id)
        return self.store.file_path(file_id)

    def delete_file(self, file_id: str) -> dict[str, Any]:
        self._file_row(file_id)
        self.store.execute("UPDATE oa_files SET deleted = 1 WHERE id = ?", (file_id,))
        return {"id": file_id, "object": "file", "deleted": True}

    def list_files(
        self,
        *,
        after: str | None = None,
        limit: int = 10_000,
        order: str = "desc",
        purpose: str | None = None,
    ) -> dict[str, Any]:
        if not 1 <= limit <= 10_000:
            raise bad_request("Invalid 'limit': must be between 1 and 10000.", param="limit")
        if order not in ("asc", "desc"):
            raise bad_request("Invalid 'order': must be 'asc' or 'desc'.", param="order")
        where = ["deleted = 0", "(expires_at IS NULL OR expires_at > ?)"]
        params: list[Any] = [self.rt.clock()]
        if purpose:
            where.append("purpose = ?")
            params.append(purpose)
        if after:
            cursor = self.store.one("SELECT seq FROM oa_files WHERE id = ?", (after,))
            if cursor is None:
                raise ApiError(404, f"No such File object: {after}", param="after")
            where.append("seq < ?" if order == "desc" else "seq > ?")
            params.append(cursor[0])
        rows = self.store.all(
            "SELECT id, purpose, filename, bytes, created_at, expires_at, status, seq FROM oa_files"
            f" WHERE {' AND '.join(where)} ORDER BY seq {'DESC' if order == 'desc' else 'ASC'}"
            " LIMIT ?",
            (*params, limit + 1),
        )
        data = [self._file_object(r) for r in rows[:limit]]
        # The reference schema requires string first_id/last_id; an empty page gets "".
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else "",
            "last_id": data[-1]["id"] if data else "",
            "has_more": len(rows) > limit,
        }

    # ------------------------------------------------------------ batches: create

    def create_batch(self, body: Any) -> dict[str, Any]:
        self.rt.check_create_faults("openai")
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(body.get(name), str) or not body.get(name):
                raise bad_request(
                    f"Missing required parameter: '{name}'.",
                    param=name,
                    code="missing_required_parameter",
                )
        endpoint = body["endpoint"]
        if endpoint not in BATCH_ENDPOINTS:
            raise bad_request(
                f"Invalid value: '{endpoint}'. Supported values are: {', '.join(BATCH_ENDPOINTS)}.",
                param="endpoint",
                code="invalid_value",
            )
        if endpoint not in SUPPORTED_ENDPOINTS:
            raise bad_request(
                f"The emulator does not run batches for {endpoint}; it supports "
                f"{' and '.join(SUPPORTED_ENDPOINTS)}.",
                param="endpoint",
                code="unsupported_value",
            )
        if body["completion_window"] != "24h":
            raise bad_request(
                f"Invalid value: '{body['completion_window']}'. Supported values are: '24h'.",
                param="completion_window",
                code="invalid_value",
            )
        metadata = body.get("metadata")
        _check_metadata(metadata)
        output_ttl = _check_expires_after(body.get("output_expires_after"), "output_expires_after")
        file_row = self._file_row(body["input_file_id"])
        if file_row[1] != "batch":
            raise bad_request(
                f"The input file {file_row[0]} was uploaded with purpose '{file_row[1]}'; "
                "batch input files must have purpose 'batch'.",
                param="input_file_id",
            )
        seq = self.store.next_seq("oa_batch")
        config = self.rt.config
        settings = self.rt.batch_settings()
        input_path = self.store.file_path(file_row[0])
        # Token estimates cost a pass over every message: only made when a limit may need them
        # (a batch created before a limit was set is counted when the limit first asks).
        plan = _scan_input(
            input_path, file_row[3], endpoint, seq, settings, bool(config.enqueued_token_limit)
        )
        plan["cfg"] = settings
        if (
            not plan["errors"]
            and answers.roll(config.seed, "fail_validation", "openai", seq)
            < config.fail_validation_rate
        ):
            plan["errors"] = [
                _token_limit_error(plan["model"], 2_000_000, "(emulated by --fail-validation-rate)")
            ]
        if (
            not plan["errors"]
            and answers.roll(config.seed, "expire", "openai", seq) < config.expire_rate
        ):
            share = 0.2 + 0.6 * answers.roll(config.seed, "expire_share", "openai", seq)
            plan["expire_k"] = int(plan["total"] * share)
        batch_id = new_id("batch")
        spec = {
            "endpoint": endpoint,
            "input_file_id": file_row[0],
            "completion_window": "24h",
            "metadata": metadata,
            "output_ttl": output_ttl,
        }
        # The enqueued-token check and the insert it admits are one step, so two creates racing
        # for the last tokens cannot both pass.
        with self.rt.create_lock("openai"):
            created = self.rt.clock()
            limit = config.enqueued_token_limit.get(plan["model"] or "")
            if limit is not None and not plan["errors"]:
                enqueued = self._enqueued_tokens(plan["model"], created)
                if plan["input_tokens"] is None:
                    plan["input_tokens"] = _count_input_tokens(input_path, endpoint)
                if enqueued + plan["input_tokens"] > limit:
                    plan["errors"] = [_token_limit_error(plan["model"], limit)]
            self.store.execute(
                "INSERT INTO oa_batches (id, seq, created, spec, plan) VALUES (?, ?, ?, ?, ?)",
                (batch_id, seq, created, dumps(spec).decode(), dumps(plan).decode()),
            )
        self.rt.lose_create_response("openai", seq)
        return self._render(self._row(batch_id), created, force="validating")

    def _enqueued_tokens(self, model: str, now: float) -> int:
        """Input tokens of the model's batches still validating, in progress or finalizing
        (cancelling, failed and ended batches hold none)."""
        total = 0
        rows = self.store.all(
            "SELECT id, created, spec, plan FROM oa_batches"
            " WHERE result IS NULL AND cancel_at IS NULL"
        )
        for batch_id, created, raw_spec, raw_plan in rows:
            plan = orjson.loads(raw_plan)
            if plan["errors"] or plan["model"] != model:
                continue
            _, end = self._timing({"plan": plan})
            if now >= created + end:
                continue
            if plan.get("input_tokens") is None:  # created while no limit was configured
                spec = orjson.loads(raw_spec)
                plan["input_tokens"] = _count_input_tokens(
                    self.store.file_path(spec["input_file_id"]), spec["endpoint"]
                )
                self.store.execute(
                    "UPDATE oa_batches SET plan = ? WHERE id = ?", (dumps(plan).decode(), batch_id)
                )
            total += plan["input_tokens"]
        return total

    # ------------------------------------------------------------ batches: read / cancel

    def _row(self, batch_id: str) -> dict[str, Any]:
        row = self.store.one(
            "SELECT id, seq, created, spec, plan, cancel_at, result FROM oa_batches WHERE id = ?",
            (batch_id,),
        )
        if row is None:
            raise ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")
        return {
            "id": row[0],
            "seq": row[1],
            "created": row[2],
            "spec": orjson.loads(row[3]),
            "plan": orjson.loads(row[4]),
            "cancel_at": row[5],
            "result": orjson.loads(row[6]) if row[6] else None,
        }

    def get_batch(
        self, batch_id: str, *, count_as_retrieve: bool = False, inline: bool = False
    ) -> dict[str, Any]:
        """The batch as of now. `inline=True` raises WorkNeeded instead of generating results."""
        row = self._row(batch_id)
        now = self.rt.clock()
        if inline and self._due(row, now):
            raise WorkNeeded(batch_id)
        if count_as_retrieve:
            cfg = self.rt.config
            if cfg.server_errors_rate > 0:
                attempt = self.rt.next_retrieve("openai", batch_id)
                if (
                    answers.roll(cfg.seed, "server_error", "openai", row["seq"], attempt)
                    < cfg.server_errors_rate
                ):
                    raise ApiError(
                        500,
                        "The server had an error while processing your request. Sorry about that! "
                        "(emulated by --server-errors-rate)",
                    )
        row = self._advance(row, now)
        return self._render(row, now)

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        now = self.rt.clock()
        row = self._advance(self._row(batch_id), now)
        if row["result"] is not None:
            raise bad_request(
                f"Cannot cancel a batch with status '{row['result']['status']}'.", param="batch_id"
            )
        if row["cancel_at"] is None:
            self.store.execute(
                "UPDATE oa_batches SET cancel_at = ? WHERE id = ? AND cancel_at IS NULL",
                (now, batch_id),
            )
            row = self._row(batch_id)
        return self._render(row, now, force="cancelling")

    def list_batches(self, *, after: str | None = None, limit: int = 20) -> dict[str, Any]:
        if not 1 <= limit <= 100:
            raise bad_request("Invalid 'limit': must be between 1 and 100.", param="limit")
        params: tuple = ()
        where = ""
        if after:
            cursor = self.store.one("SELECT seq FROM oa_batches WHERE id = ?", (after,))
            if cursor is None:
                raise ApiError(404, f"No batch found with id '{after}'.", param="after")
            where, params = "WHERE seq < ?", (cursor[0],)
        ids = [
            r[0]
            for r in self.store.all(
                f"SELECT id FROM oa_batches {where} ORDER BY seq DESC LIMIT ?", (*params, limit + 1)
            )
        ]
        now = self.rt.clock()
        data = [self._render(self._advance(self._row(i), now), now) for i in ids[:limit]]
        page: dict[str, Any] = {"object": "list", "data": data, "has_more": len(ids) > limit}
        if data:
            page["first_id"] = data[0]["id"]
            page["last_id"] = data[-1]["id"]
        return page

    # ------------------------------------------------------------ timeline

    @staticmethod
    def _timing(row: dict[str, Any]) -> tuple[float, float]:
        c = float(row["plan"]["cfg"]["complete_after"])
        return c, min(c, float(BATCH_WINDOW))

    def _done_at(self, row: dict[str, Any], at: float) -> int:
        """Lines finished by time `at` (absolute)."""
        plan = row["plan"]
        total = plan["total"]
        c, _ = self._timing(row)
        if c <= 0:
            done = total
        else:
            share = (at - row["created"] - 0.1 * c) / (0.8 * c)
            done = int(total * min(1.0, max(0.0, share)))
        if plan.get("expire_k") is not None:
            done = min(done, plan["expire_k"])
        return done

    def _due(self, row: dict[str, Any], now: float) -> bool:
        if row["result"] is not None:
            return False
        c, end = self._timing(row)
        if row["cancel_at"] is not None:
            return now >= row["cancel_at"] + 0.1 * c
        if row["plan"]["errors"]:
            return now >= row["created"] + 0.1 * c
        return now >= row["created"] + end

    def _advance(self, row: dict[str, Any], now: float) -> dict[str, Any]:
        if not self._due(row, now):
            return row
        with self.rt.batch_lock(row["id"]):
            row = self._row(row["id"])
            if self._due(row, now):
                self._materialize(row)
                row = self._row(row["id"])
        return row

    def _render(self, row: dict[str, Any], now: float, force: str | None = None) -> dict[str, Any]:
        spec, plan, result = row["spec"], row["plan"], row["result"]
        created = row["created"]
        c, end = self._timing(row)
        obj: dict[str, Any] = {
            "id": row["id"],
            "object": "batch",
            "endpoint": spec["endpoint"],
            "input_file_id": spec["input_file_id"],
            "completion_window": spec["completion_window"],
            "status": "validating",
            "created_at": int(created),
            "expires_at": int(created) + BATCH_WINDOW,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": spec.get("metadata"),
            "usage": _zero_usage(),
        }
        if result is not None:
            obj["status"] = result["status"]
            obj.update(result["timestamps"])
            obj["request_counts"] = result["request_counts"]
            obj["usage"] = result["usage"]
            for name in ("output_file_id", "error_file_id"):
                if result.get(name):
                    obj[name] = result[name]
            if result["status"] == "failed":
                obj["errors"] = {"object": "list", "data": plan["errors"]}
            else:
                obj["model"] = snapshot_of(plan["model"])
            return obj
        if force == "validating":
            return obj
        t = now - created
        total = plan["total"]
        if row["cancel_at"] is not None:
            at = row["cancel_at"]
            obj["status"] = "cancelling"
            obj["cancelling_at"] = int(at)
            if at - created >= 0.1 * c and not plan["errors"]:
                obj["in_progress_at"] = int(created + 0.1 * c)
                obj["model"] = snapshot_of(plan["model"])
                done = self._done_at(row, at)
                failed = done * plan["n_line_errors"] // total if total else 0
                obj["request_counts"] = {
                    "total": total,
                    "completed": done - failed,
                    "failed": failed,
                }
            return obj
        if force == "cancelling" or t < 0.1 * c or plan["errors"]:
            return obj
        obj["model"] = snapshot_of(plan["model"])
        obj["in_progress_at"] = int(created + 0.1 * c)
        done = self._done_at(row, now)
        failed = done * plan["n_line_errors"] // total if total else 0
        obj["request_counts"] = {"total": total, "completed": done - failed, "failed": failed}
        if t >= 0.9 * c and plan.get("expire_k") is None and c <= BATCH_WINDOW:
            obj["status"] = "finalizing"
            obj["finalizing_at"] = int(created + 0.9 * c)
        else:
            obj["status"] = "in_progress"
        return obj

    # ------------------------------------------------------------ results

    def _materialize(self, row: dict[str, Any]) -> None:
        plan = row["plan"]
        created = row["created"]
        c, end = self._timing(row)
        timestamps: dict[str, int] = {}
        if plan["errors"]:
            result = {
                "status": "failed",
                "timestamps": {"failed_at": int(created + 0.1 * c)},
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "usage": _zero_usage(),
            }
            self._save_result(row["id"], result)
            return
        if row["cancel_at"] is not None:
            at = row["cancel_at"]
            status, done, reason = "cancelled", self._done_at(row, at), "batch_cancelled"
            if at - created >= 0.1 * c:
                timestamps["in_progress_at"] = int(created + 0.1 * c)
            timestamps["cancelling_at"] = int(at)
            timestamps["cancelled_at"] = int(at + 0.1 * c)
            finished_at = at + 0.1 * c
        elif plan.get("expire_k") is not None or c > BATCH_WINDOW:
            status, done, reason = "expired", self._done_at(row, created + end), "batch_expired"
            timestamps["in_progress_at"] = int(created + 0.1 * c)
            timestamps["expired_at"] = int(created + end)
            finished_at = created + end
        else:
            status, done, reason = "completed", plan["total"], None
            timestamps["in_progress_at"] = int(created + 0.1 * c)
            timestamps["finalizing_at"] = int(created + 0.9 * c)
            timestamps["completed_at"] = int(created + c)
            finished_at = created + c
        counts, usage, out_id, err_id = self._write_results(row, done, reason, int(finished_at))
        result = {
            "status": status,
            "timestamps": timestamps,
            "request_counts": counts,
            "usage": usage,
            "output_file_id": out_id,
            "error_file_id": err_id,
        }
        self._save_result(row["id"], result)

    def _save_result(self, batch_id: str, result: dict[str, Any]) -> None:
        self.store.execute(
            "UPDATE oa_batches SET result = ? WHERE id = ?", (dumps(result).decode(), batch_id)
        )

    def _write_results(
        self, row: dict[str, Any], done: int, reason: str | None, finished_at: int
    ) -> tuple[dict[str, int], dict[str, Any], str | None, str | None]:
        plan, spec = row["plan"], row["spec"]
        cfg = plan["cfg"]
        batch_id, seq = row["id"], row["seq"]
        endpoint = spec["endpoint"]
        out_id, err_id = new_id("file"), new_id("file")
        out_path, err_path = self.store.file_path(out_id), self.store.file_path(err_id)
        out_tmp, err_tmp = out_path.with_suffix(".tmp"), err_path.with_suffix(".tmp")
        order = None if cfg.get("ordered_results") else (cfg["seed"], seq)
        session = self.rt.cache.session()
        base = answers.digest(batch_id).hex()[:24]
        completed = failed = 0
        usage = _zero_usage()
        out_bytes = err_bytes = 0
        lines = iter_jsonl_indexed(self.store.file_path(spec["input_file_id"]), order)
        with (
            open(out_tmp, "wb", buffering=1 << 20) as out,
            open(err_tmp, "wb", buffering=1 << 20) as err,
        ):
            for index, raw in lines:
                line = orjson.loads(raw)
                custom_id = line["custom_id"]
                h = f"{base}{index:08x}"
                record: dict[str, Any] = {"id": f"batch_req_{h}", "custom_id": custom_id}
                if index >= done:
                    message = (
                        "This request could not be executed before the completion window expired."
                        if reason == "batch_expired"
                        else "This request was not executed because the batch was cancelled."
                    )
                    record["response"] = None
                    record["error"] = {"code": reason, "message": message}
                    data = dumps(record) + b"\n"
                    err.write(data)
                    err_bytes += len(data)
                    continue
                response, error = self._process_line(
                    endpoint, line["body"], custom_id, seq, cfg, session, finished_at, h
                )
                record["response"] = response
                record["error"] = error
                data = dumps(record) + b"\n"
                if response is not None and response["status_code"] == 200:
                    completed += 1
                    _add_usage(usage, response["body"].get("usage") or {})
                    out.write(data)
                    out_bytes += len(data)
                else:
                    failed += 1
                    err.write(data)
                    err_bytes += len(data)
        session.commit()
        expires = finished_at + spec["output_ttl"] if spec.get("output_ttl") else None
        file_ids: list[str | None] = []
        for file_id, tmp, path, size, kind in (
            (out_id, out_tmp, out_path, out_bytes, "output"),
            (err_id, err_tmp, err_path, err_bytes, "error"),
        ):
            if size == 0:
                tmp.unlink(missing_ok=True)
                file_ids.append(None)
                continue
            os.replace(tmp, path)
            self._insert_file(
                file_id, "batch_output", f"{batch_id}_{kind}.jsonl", size, finished_at, expires
            )
            file_ids.append(file_id)
        counts = {"total": plan["total"], "completed": completed, "failed": failed}
        return counts, usage, file_ids[0], file_ids[1]

    def _process_line(
        self,
        endpoint: str,
        body: dict[str, Any],
        custom_id: str,
        seq: int,
        cfg: dict[str, Any],
        session: CacheSession,
        created: int,
        h: str,
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(response, error) of one line: an HTTP answer, or a non-HTTP error (response null)."""

        def http(status: int, answer: dict[str, Any]) -> tuple[dict[str, Any], None]:
            return {"status_code": status, "request_id": f"req_{h}", "body": answer}, None

        fault = injected_fault(cfg, "openai", seq, custom_id)
        if fault == "invalid_request":
            return http(
                400,
                bad_request(
                    "Invalid request (emulated by --invalid-request-rate).",
                    code="invalid_value",
                ).openai_body(),
            )
        if fault == "timeout":
            return None, {
                "code": "request_timeout",
                "message": "The request timed out (emulated by --timeout-rate).",
            }
        if fault == "server_error":
            if answers.roll(cfg["seed"], "line_error_kind", "openai", seq, custom_id) < 0.5:
                return http(
                    500,
                    ApiError(
                        500,
                        "The server had an error processing your request. Sorry about that! You "
                        "can retry your request. (emulated by --line-error-rate)",
                    ).openai_body(),
                )
            model = body.get("model")
            return http(
                429,
                ApiError(
                    429,
                    f"Rate limit reached for {model} in organization org-emulator on tokens per "
                    "min (TPM). (emulated by --line-error-rate)",
                    type="tokens",
                    code="rate_limit_exceeded",
                ).openai_body(),
            )
        malformed = answers.chance(
            cfg["malformed_rate"], cfg["seed"], "malformed", "openai", seq, custom_id
        )
        try:
            if endpoint == "/v1/chat/completions":
                return http(
                    200,
                    self.chat_completion(
                        body,
                        session,
                        malformed=malformed,
                        created=created,
                        completion_id=f"chatcmpl-{h}",
                    ),
                )
            return http(200, self.embeddings(body))
        except ApiError as exc:
            return http(exc.status, exc.openai_body())

    # ------------------------------------------------------------ synchronous endpoints

    def chat_completion(
        self,
        body: Any,
        session: CacheSession | None = None,
        *,
        malformed: bool = False,
        created: int | None = None,
        completion_id: str | None = None,
    ) -> dict[str, Any]:
        validate_chat(body)
        own_session = session is None
        session = session or self.rt.cache.session()
        prompt = openai_chat_prompt_usage(body, session)
        if own_session:
            session.commit()
        rng = answers.request_rng(body)
        choices = []
        completion_tokens = 0
        for index in range(int(body.get("n") or 1)):
            message, finish, used = _chat_choice(body, rng, malformed)
            completion_tokens += used
            choices.append(
                {"index": index, "message": message, "logprobs": None, "finish_reason": finish}
            )
        return {
            "id": completion_id or new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(created if created is not None else self.rt.clock()),
            "model": snapshot_of(body["model"]),
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt["prompt_tokens"],
                "completion_tokens": completion_tokens,
                "total_tokens": prompt["prompt_tokens"] + completion_tokens,
                "prompt_tokens_details": {
                    "cached_tokens": prompt["cached_tokens"],
                    "audio_tokens": 0,
                    "cache_write_tokens": prompt["cache_write_tokens"],
                },
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_emulator",
        }

    def embeddings(self, body: Any) -> dict[str, Any]:
        inputs, dimensions, encoding = validate_embeddings(body)
        model = body["model"]
        data = []
        prompt_tokens = 0
        for index, value in enumerate(inputs):
            vector = answers.embedding_vector(model, value, dimensions)
            prompt_tokens += _embedding_item_tokens(value)
            embedding: Any = answers.embedding_base64(vector) if encoding == "base64" else vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return {
            "object": "list",
            "data": data,
            "model": snapshot_of(model),
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }


# ---------------------------------------------------------------- helpers


def _zero_usage() -> dict[str, Any]:
    return {
        "input_tokens": 0,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 0,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 0,
    }


def _add_usage(total: dict[str, Any], usage: dict[str, Any]) -> None:
    prompt = usage.get("prompt_tokens", 0)
    output = usage.get("completion_tokens", 0)
    total["input_tokens"] += prompt
    total["input_tokens_details"]["cached_tokens"] += (
        usage.get("prompt_tokens_details") or {}
    ).get("cached_tokens", 0)
    total["output_tokens"] += output
    total["total_tokens"] += prompt + output


def _check_metadata(metadata: Any) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise bad_request("Invalid type for 'metadata': expected an object.", param="metadata")
    if len(metadata) > 16:
        raise bad_request(
            "Invalid 'metadata': too many properties. Expected an object with at most 16 properties.",
            param="metadata",
        )
    for key, value in metadata.items():
        if len(key) > 64:
            raise bad_request(
                f"Invalid 'metadata': key '{key[:20]}...' is longer than 64 characters.",
                param="metadata",
            )
        if not isinstance(value, str) or len(value) > 512:
            raise bad_request(
                f"Invalid 'metadata.{key}': values must be strings of at most 512 characters.",
                param=f"metadata.{key}",
            )


def _check_expires_after(value: Any, param: str) -> int | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or value.get("anchor") != "created_at"
        or not isinstance(value.get("seconds"), int)
        or not 3600 <= value["seconds"] <= 2_592_000
    ):
        raise bad_request(
            f"Invalid '{param}': expected {{anchor: 'created_at', seconds: 3600..2592000}}.",
            param=param,
        )
    return int(value["seconds"])


def _token_limit_error(model: str | None, limit: int, note: str = "") -> dict[str, Any]:
    """The batch-level error of a create past the enqueued-token limit, in the real wording
    (openai/openai-python#2084)."""
    message = (
        f"Enqueued token limit reached for {model} in organization org-emulator. "
        f"Limit: {limit:,} enqueued tokens. Please try again once some in_progress batches "
        "have been completed."
    )
    return _error("token_limit_exceeded", f"{message} {note}".strip())


def _embedding_items(value: Any) -> list[Any]:
    """The inputs of an embeddings `input`: a string, a token array, or a list of either."""
    if isinstance(value, list) and value and not all(isinstance(v, int) for v in value):
        return value
    return [value]


def _embedding_item_tokens(item: Any) -> int:
    """Tokens of one embedding input, as its usage reports them."""
    if isinstance(item, str):
        return answers.tokens(item)
    return len(item) if isinstance(item, list) else 0


def _line_input_tokens(endpoint: str, body: dict[str, Any]) -> int:
    """The emulator's estimate of one line's input tokens (what its usage will report)."""
    if endpoint == "/v1/embeddings":
        return sum(_embedding_item_tokens(item) for item in _embedding_items(body.get("input")))
    return openai_chat_prompt_tokens(body)


def _count_input_tokens(path: Path, endpoint: str) -> int:
    """Input tokens of a batch input file that passed validation."""
    return sum(_line_input_tokens(endpoint, orjson.loads(raw)["body"]) for raw in iter_jsonl(path))


def _scan_input(
    path: Path,
    size: int,
    endpoint: str,
    seq: int,
    settings: dict[str, Any],
    count_tokens: bool,
) -> dict[str, Any]:
    """Validate a batch input file as the service does, streaming it once, and count its
    lines, injected line failures and input tokens (the enqueued-token estimate).

    Error codes: `invalid_json_line`, `duplicate_custom_id`, `url_mismatch`, `model_mismatch`,
    `empty_file` and `too_many_tasks` as the API reference lists them (quoted in
    stdapi-ai/stdapi.ai#240); `missing_required_parameter` with `line` as users reported it
    (community.openai.com "Batch API is now available"); `invalid_method`, `file_too_large` and
    `too_many_embedding_inputs` are the emulator's guesses.
    """
    errors: list[dict] = []

    def add(error: dict) -> None:
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(error)

    plan: dict[str, Any] = {
        "total": 0,
        "model": None,
        "n_line_errors": 0,
        "embedding_inputs": 0,
        "input_tokens": 0 if count_tokens else None,
    }
    if size > MAX_BATCH_FILE_BYTES:
        add(
            _error(
                "file_too_large", f"The batch input file is {size} bytes; the maximum is 200 MB."
            )
        )
        plan["errors"] = errors
        return plan
    seen: set[str] = set()
    total = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.rstrip(b"\r\n")
            if not text.strip():
                add(_error("invalid_json_line", f"Line {number} is empty.", line=number))
                continue
            try:
                line = orjson.loads(text)
            except orjson.JSONDecodeError:
                add(
                    _error(
                        "invalid_json_line",
                        "This line is not parseable as valid JSON.",
                        line=number,
                    )
                )
                continue
            if not isinstance(line, dict):
                add(
                    _error("invalid_json_line", f"Line {number} is not a JSON object.", line=number)
                )
                continue
            total += 1
            custom_id = line.get("custom_id")
            if not isinstance(custom_id, str) or not custom_id:
                add(
                    _error(
                        "missing_required_parameter",
                        "Missing required parameter: 'custom_id'.",
                        line=number,
                        param="custom_id",
                    )
                )
            elif custom_id in seen:
                add(
                    _error(
                        "duplicate_custom_id",
                        "The custom_id for this request is a duplicate of another request. The "
                        "custom_id parameter must be unique for each request in a batch.",
                        line=number,
                        param="custom_id",
                    )
                )
            else:
                seen.add(custom_id)
                if injected_fault(settings, "openai", seq, custom_id):
                    plan["n_line_errors"] += 1
            if line.get("method") != "POST":
                add(
                    _error(
                        "invalid_method",
                        "Invalid method: only POST is supported for batch requests.",
                        line=number,
                        param="method",
                    )
                )
            if line.get("url") != endpoint:
                add(
                    _error(
                        "url_mismatch",
                        f"The URL provided for this request ('{line.get('url')}') does not match "
                        f"the batch endpoint ('{endpoint}').",
                        line=number,
                        param="url",
                    )
                )
            body = line.get("body")
            if not isinstance(body, dict):
                add(
                    _error(
                        "missing_required_parameter",
                        "Missing required parameter: 'body'.",
                        line=number,
                        param="body",
                    )
                )
                continue
            model = body.get("model")
            if not isinstance(model, str) or not model:
                add(
                    _error(
                        "missing_required_parameter",
                        "Missing required parameter: 'body.model'.",
                        line=number,
                        param="body.model",
                    )
                )
            elif plan["model"] is None:
                plan["model"] = model
            elif model != plan["model"]:
                add(
                    _error(
                        "model_mismatch",
                        f"The model '{model}' of this request does not match the model "
                        f"'{plan['model']}' of the other requests: a batch may only contain "
                        "requests for one model.",
                        line=number,
                        param="body.model",
                    )
                )
            if endpoint == "/v1/embeddings":
                plan["embedding_inputs"] += len(_embedding_items(body.get("input")))
            if count_tokens:
                plan["input_tokens"] += _line_input_tokens(endpoint, body)
    plan["total"] = total
    if total == 0 and not errors:
        add(_error("empty_file", "The batch input file is empty."))
    if total > MAX_BATCH_LINES:
        add(
            _error(
                "too_many_tasks",
                f"The batch input file has {total} requests; a batch may contain at most "
                f"{MAX_BATCH_LINES:,} requests.",
            )
        )
    if plan["embedding_inputs"] > MAX_EMBEDDING_INPUTS:
        add(
            _error(
                "too_many_embedding_inputs",
                f"The batch has {plan['embedding_inputs']} embedding inputs; /v1/embeddings "
                f"batches may contain at most {MAX_EMBEDDING_INPUTS:,} inputs.",
            )
        )
    plan["errors"] = errors
    return plan


def validate_chat(body: Any) -> None:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise bad_request(
            "you must provide a model parameter", param="model", code="missing_required_parameter"
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            param="messages",
            code="empty_array" if isinstance(messages, list) else "missing_required_parameter",
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise bad_request(
                f"Invalid value for 'messages[{index}].role': expected one of {', '.join(ROLES)}.",
                param=f"messages[{index}].role",
                code="invalid_value",
            )
    if body.get("stream"):
        raise bad_request("The emulator does not support stream=true.", param="stream")
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or not 1 <= n <= 128):
        raise bad_request("Invalid 'n': must be an integer between 1 and 128.", param="n")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise bad_request(f"Invalid '{name}': must be a positive integer.", param=name)
    fmt = body.get("response_format")
    if fmt is not None:
        if not isinstance(fmt, dict) or fmt.get("type") not in (
            "text",
            "json_object",
            "json_schema",
        ):
            raise bad_request(
                "Invalid 'response_format.type': expected 'text', 'json_object' or 'json_schema'.",
                param="response_format",
            )
        if fmt["type"] == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                raise bad_request(
                    "Missing required parameter: 'response_format.json_schema.name'.",
                    param="response_format.json_schema.name",
                )
            if not NAME_RE.match(spec["name"]):
                raise bad_request(
                    "Invalid 'response_format.json_schema.name': must match ^[a-zA-Z0-9_-]{1,64}$.",
                    param="response_format.json_schema.name",
                )
            schema = spec.get("schema", {})
            if not isinstance(schema, dict):
                raise bad_request(
                    "Invalid 'response_format.json_schema.schema': expected an object.",
                    param="response_format.json_schema.schema",
                )
            if spec.get("strict"):
                problem = strict_schema_problem(answers.canonical(schema))
                if problem:
                    raise bad_request(
                        f"Invalid schema for response_format '{spec['name']}': {problem}",
                        param="response_format",
                        code="invalid_json_schema",
                    )
    tools = body.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            raise bad_request("Invalid 'tools': expected an array.", param="tools")
        for index, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise bad_request(
                    f"Missing required parameter: 'tools[{index}].function.name'.",
                    param=f"tools[{index}].function.name",
                )
            names.append(function["name"])
            if function.get("strict"):
                problem = strict_schema_problem(answers.canonical(function.get("parameters") or {}))
                if problem:
                    raise bad_request(
                        f"Invalid schema for function '{function['name']}': {problem}",
                        param=f"tools[{index}].function.parameters",
                        code="invalid_function_parameters",
                    )
    choice = body.get("tool_choice")
    if choice is not None:
        if isinstance(choice, str):
            if choice not in ("none", "auto", "required"):
                raise bad_request("Invalid 'tool_choice'.", param="tool_choice")
            if choice == "required" and not names:
                raise bad_request(
                    "'tool_choice' is 'required' but no tools were given.", param="tool_choice"
                )
        elif isinstance(choice, dict):
            name = (choice.get("function") or {}).get("name")
            if name not in names:
                raise bad_request(
                    f"Invalid 'tool_choice': no function named '{name}' in 'tools'.",
                    param="tool_choice",
                )
        else:
            raise bad_request("Invalid 'tool_choice'.", param="tool_choice")


@lru_cache(maxsize=512)
def strict_schema_problem(schema_json: bytes) -> str | None:
    """Why a schema is not valid for strict structured outputs (None when it is)."""
    schema = orjson.loads(schema_json)
    if not isinstance(schema, dict) or (schema.get("type") != "object" and "$ref" not in schema):
        kind = schema.get("type") if isinstance(schema, dict) else type(schema).__name__
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{kind}\"'."

    def walk(node: Any, context: tuple) -> str | None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                found = walk(item, (*context, index))
                if found:
                    return found
            return None
        if not isinstance(node, dict):
            return None
        kind = node.get("type")
        is_object = (
            kind == "object"
            or (isinstance(kind, list) and "object" in kind)
            or "properties" in node
        )
        if is_object:
            if node.get("additionalProperties") is not False:
                return (
                    f"In context={context}, 'additionalProperties' is required to be supplied and "
                    "to be false."
                )
            props = node.get("properties") or {}
            required = node.get("required") or []
            missing = [name for name in props if name not in required]
            if missing:
                return (
                    f"In context={context}, 'required' is required to be supplied and to be an "
                    f"array including every key in properties. Missing '{missing[0]}'."
                )
        for key in ("properties", "$defs", "definitions"):
            if isinstance(node.get(key), dict):
                for name, sub in node[key].items():
                    found = walk(sub, (*context, key, name))
                    if found:
                        return found
        for key in ("items", "anyOf", "allOf", "prefixItems"):
            if key in node:
                found = walk(node[key], (*context, key))
                if found:
                    return found
        return None

    return walk(schema, ())


def _chat_choice(
    body: dict[str, Any], rng: Any, malformed: bool
) -> tuple[dict[str, Any], str, int]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "annotations": [],
    }
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    forced: dict | None = None
    if tools and (choice == "required" or isinstance(choice, dict)):
        if isinstance(choice, dict):
            name = choice["function"]["name"]
            forced = next(t["function"] for t in tools if t["function"]["name"] == name)
        else:
            forced = rng.choice(tools)["function"]
    if forced is not None:
        schema = forced.get("parameters") or {"type": "object", "properties": {}}
        value = answers.schema_answer(schema, rng)
        arguments = (
            answers.malformed_json_text(schema, value, rng)
            if malformed
            else orjson.dumps(value).decode()
        )
        message["tool_calls"] = [
            {
                "id": "call_" + answers.digest("call", arguments).hex()[:24],
                "type": "function",
                "function": {"name": forced["name"], "arguments": arguments},
            }
        ]
        return message, "tool_calls", max(1, answers.tokens(arguments))
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = fmt["json_schema"].get("schema", {})
        value = answers.schema_answer(schema, rng)
        content = (
            answers.malformed_json_text(schema, value, rng)
            if malformed
            else orjson.dumps(value).decode()
        )
    elif fmt.get("type") == "json_object":
        text = orjson.dumps({"answer": answers.text_answer(rng)}).decode()
        content = text[: len(text) // 2] if malformed else text
    else:
        content = answers.text_answer(rng)
    used = max(1, answers.tokens(content))
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    finish = "stop"
    if isinstance(limit, int) and used > limit:
        content = answers.truncate_to_tokens(content, limit)
        used, finish = limit, "length"
    message["content"] = content
    return message, finish, used


def validate_embeddings(body: Any) -> tuple[list[Any], int, str]:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request(
            "you must provide a model parameter", param="model", code="missing_required_parameter"
        )
    raw = body.get("input")
    if isinstance(raw, str):
        inputs: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(v, int) for v in raw):
        inputs = [raw]
    elif (
        isinstance(raw, list)
        and raw
        and all(
            isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(i, int) for i in v))
            for v in raw
        )
    ):
        inputs = list(raw)
    else:
        raise bad_request(
            "'$.input' is invalid. Please check the API reference: "
            "https://platform.openai.com/docs/api-reference.",
            param="input",
        )
    if any(isinstance(v, str) and not v for v in inputs):
        raise bad_request("'$.input' is invalid: empty strings are not allowed.", param="input")
    if len(inputs) > MAX_EMBEDDING_INPUTS_PER_REQUEST:
        raise bad_request(
            f"Invalid 'input': maximum length of array is {MAX_EMBEDDING_INPUTS_PER_REQUEST}.",
            param="input",
        )
    native = answers.default_embedding_dimensions(model)
    dimensions = body.get("dimensions")
    if dimensions is None:
        dimensions = native
    elif not isinstance(dimensions, int) or not 1 <= dimensions <= native:
        raise bad_request(
            f"Invalid 'dimensions': must be between 1 and {native}.", param="dimensions"
        )
    elif not model.startswith("text-embedding-3"):
        raise bad_request(
            f"This model does not support specifying dimensions: {model}", param="dimensions"
        )
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise bad_request(
            "Invalid 'encoding_format': expected 'float' or 'base64'.", param="encoding_format"
        )
    return inputs, dimensions, encoding
