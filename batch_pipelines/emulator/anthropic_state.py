"""Anthropic Message Batches and synchronous Messages: the state model behind `/v1/messages`.

Lifecycle with `complete_after = C` (snapshotted at create): `in_progress` until C, then `ended`
(results generated once, streamed to `anthropic/results/<id>.jsonl`, not in request order).
Outcome counts stay 0 (all requests `processing`) until the batch has ended. Cancel: `canceling`
for 0.1C, then `ended`; requests finished before the cancel keep their results, the others are
`canceled`. An expiring batch (fault or C > 24 h) ends with the unfinished requests `expired`.
Results are downloadable for 29 days (emulator clock); after that `archived_at` is set and
`results_url` is null.

Create checks only the envelope, all or nothing (400 invalid_request_error): 1..100,000
requests, at most 256 MB, unique `custom_id`s matching `^[a-zA-Z0-9_-]{1,64}$`, a `params`
object per request; past `anthropic_queue_limit` it answers 429. Each request's `params` are
validated when the batch runs, as the Messages API would (model, max_tokens, messages,
tools/tool_choice, cache_control, no sampling params on 2026-10-21): an invalid request is an
`errored` result (Anthropic, Batch processing: "Validation of the params object for each message
request is performed asynchronously"). There is no failed batch state.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import orjson

from batch_pipelines.core.models import listed_model, snapshot_of

from . import answers
from .caching import (
    ANTHROPIC_MAX_BREAKPOINTS,
    ANTHROPIC_TTLS,
    CacheSession,
    anthropic_blocks,
    anthropic_prompt_usage,
)
from .errors import ApiError, WorkNeeded, bad_request
from .faults import injected_fault
from .runtime import Runtime
from .store import dumps, iter_jsonl_indexed, new_id

API_VERSIONS = ("2023-06-01", "2026-10-21")
MAX_REQUESTS = 100_000
MAX_BODY_BYTES = 256 * 1024 * 1024
WINDOW = 86_400
RESULTS_RETENTION = 29 * 86_400
CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")


def rfc3339(ts: float) -> str:
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


class AnthropicState:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.store = runtime.store

    # ------------------------------------------------------------ create

    def create_batch(self, raw: bytes, *, version: str = "2026-10-21") -> dict[str, Any]:
        self.rt.check_create_faults("anthropic")
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, "Request exceeds the maximum allowed number of bytes (256 MB).")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}") from exc
        seq = self.store.next_seq("an_create")
        pending = self.store.anthropic_requests_dir / f"{seq:08d}-pending.jsonl"
        requests = body.get("requests") if isinstance(body, dict) else None
        if isinstance(requests, list):
            with open(pending, "wb", buffering=1 << 20) as handle:
                for item in requests:
                    handle.write(dumps(item) + b"\n")
        batch_id = new_id("msgbatch")
        path = pending.with_name(f"{seq:08d}-{batch_id}.jsonl")
        settings = self.rt.batch_settings()
        try:
            _validate_envelope(body)
            # The queue check and the insert it admits are one step.
            with self.rt.create_lock("anthropic"):
                created = self.rt.clock()
                self._check_queue_limit(len(requests), created)
                os.replace(pending, path)
                plan: dict[str, Any] = {
                    "total": len(requests),
                    "requests_path": path.name,
                    "version": version,
                    "cfg": settings,
                }
                if answers.chance(
                    self.rt.config.expire_rate, settings["seed"], "expire", "anthropic", seq
                ):
                    share = 0.2 + 0.6 * answers.roll(
                        settings["seed"], "expire_share", "anthropic", seq
                    )
                    plan["expire_k"] = int(len(requests) * share)
                self.store.execute(
                    "INSERT INTO an_batches (id, seq, created, plan) VALUES (?, ?, ?, ?)",
                    (batch_id, seq, created, dumps(plan).decode()),
                )
        except ApiError:
            if pending.exists():
                os.replace(pending, pending.with_name(f"{seq:08d}-rejected.jsonl"))
            raise
        self.rt.lose_create_response("anthropic", seq)
        return self._render(self._row(batch_id), created, base_url="")

    def _check_queue_limit(self, incoming: int, now: float) -> None:
        """Rate limits, Message Batches API: "a limit on the number of batch requests that can be
        in the processing queue at the same time"; a request counts until it has been processed.
        """
        config = self.rt.config
        limit = config.anthropic_queue_limit
        if limit <= 0:
            return
        queued = 0
        for row_id, row_seq, created, raw_plan, cancel_at in self.store.all(
            "SELECT id, seq, created, plan, cancel_at FROM an_batches"
            " WHERE result IS NULL AND deleted = 0"
        ):
            row = {
                "id": row_id,
                "seq": row_seq,
                "created": created,
                "plan": orjson.loads(raw_plan),
                "cancel_at": cancel_at,
                "result": None,
            }
            if self._due(row, now):  # ended by now, whether or not anyone looked
                continue
            at = now if cancel_at is None else min(now, cancel_at)
            queued += row["plan"]["total"] - self._done_at(row, at)
        if queued + incoming > limit:
            wait = config.retry_after_header()
            raise ApiError(
                429,
                f"Number of batch requests in the processing queue ({queued:,} queued + "
                f"{incoming:,} in this batch) would exceed your organization's limit of "
                f"{limit:,}. Please try again once some batches have ended. "
                "(emulated by --anthropic-queue-limit)",
                headers={"retry-after": wait},
            )

    # ------------------------------------------------------------ read / list / cancel / delete

    def _row(self, batch_id: str) -> dict[str, Any]:
        row = self.store.one(
            "SELECT id, seq, created, plan, cancel_at, result FROM an_batches"
            " WHERE id = ? AND deleted = 0",
            (batch_id,),
        )
        if row is None:
            raise ApiError(404, f"Message Batch not found: {batch_id}")
        return {
            "id": row[0],
            "seq": row[1],
            "created": row[2],
            "plan": orjson.loads(row[3]),
            "cancel_at": row[4],
            "result": orjson.loads(row[5]) if row[5] else None,
        }

    def get_batch(
        self,
        batch_id: str,
        *,
        base_url: str = "",
        count_as_retrieve: bool = False,
        inline: bool = False,
    ) -> dict[str, Any]:
        """The batch as of now. `inline=True` raises WorkNeeded instead of generating results."""
        row = self._row(batch_id)
        now = self.rt.clock()
        if inline and self._due(row, now):
            raise WorkNeeded(batch_id)
        if count_as_retrieve:
            cfg = self.rt.config
            if cfg.server_errors_rate > 0:
                attempt = self.rt.next_retrieve("anthropic", batch_id)
                if (
                    answers.roll(cfg.seed, "server_error", "anthropic", row["seq"], attempt)
                    < cfg.server_errors_rate
                ):
                    raise ApiError(500, "Internal server error (emulated by --server-errors-rate)")
        return self._render(self._advance(row, now), now, base_url=base_url)

    def list_batches(
        self,
        *,
        after_id: str | None = None,
        before_id: str | None = None,
        limit: int = 20,
        base_url: str = "",
    ) -> dict[str, Any]:
        if not 1 <= limit <= 1000:
            raise bad_request("limit: Input should be less than or equal to 1000")
        if after_id and before_id:
            raise bad_request("Only one of after_id and before_id may be given.")
        cursor_id = after_id or before_id
        where, params, order = "deleted = 0", [], "DESC"
        if cursor_id:
            cursor = self.store.one("SELECT seq FROM an_batches WHERE id = ?", (cursor_id,))
            if cursor is None:
                raise ApiError(404, f"Message Batch not found: {cursor_id}")
            if after_id:
                where += " AND seq < ?"
            else:
                where += " AND seq > ?"
                order = "ASC"
            params.append(cursor[0])
        ids = [
            r[0]
            for r in self.store.all(
                f"SELECT id FROM an_batches WHERE {where} ORDER BY seq {order} LIMIT ?",
                (*params, limit + 1),
            )
        ]
        has_more = len(ids) > limit
        ids = ids[:limit]
        if order == "ASC":
            ids.reverse()
        now = self.rt.clock()
        data = [self._render(self._advance(self._row(i), now), now, base_url=base_url) for i in ids]
        return {
            "data": data,
            "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    def cancel_batch(self, batch_id: str, *, base_url: str = "") -> dict[str, Any]:
        now = self.rt.clock()
        row = self._advance(self._row(batch_id), now)
        if row["result"] is not None:
            raise bad_request(f"Message Batch {batch_id} has already ended and cannot be canceled.")
        if row["cancel_at"] is None:
            self.store.execute(
                "UPDATE an_batches SET cancel_at = ? WHERE id = ? AND cancel_at IS NULL",
                (now, batch_id),
            )
            row = self._row(batch_id)
        return self._render(row, now, base_url=base_url, pending=True)

    def delete_batch(self, batch_id: str) -> dict[str, Any]:
        now = self.rt.clock()
        row = self._advance(self._row(batch_id), now)
        if row["result"] is None:
            raise bad_request(
                f"Message Batch {batch_id} cannot be deleted while it is still processing; "
                "cancel it first."
            )
        self.store.execute("UPDATE an_batches SET deleted = 1 WHERE id = ?", (batch_id,))
        self.store.results_path(batch_id).unlink(missing_ok=True)
        return {"id": batch_id, "type": "message_batch_deleted"}

    def results_path(self, batch_id: str) -> Path:
        now = self.rt.clock()
        row = self._advance(self._row(batch_id), now)
        if row["result"] is None:
            raise bad_request(f"Message Batch {batch_id} has not finished processing yet.")
        if now >= row["created"] + RESULTS_RETENTION:
            raise ApiError(404, f"The results of Message Batch {batch_id} have been archived.")
        return self.store.results_path(batch_id)

    # ------------------------------------------------------------ timeline

    @staticmethod
    def _timing(row: dict[str, Any]) -> tuple[float, float]:
        c = float(row["plan"]["cfg"]["complete_after"])
        return c, min(c, float(WINDOW))

    def _done_at(self, row: dict[str, Any], at: float) -> int:
        total = row["plan"]["total"]
        c, _ = self._timing(row)
        done = total if c <= 0 else int(total * min(1.0, max(0.0, (at - row["created"]) / c)))
        if row["plan"].get("expire_k") is not None:
            done = min(done, row["plan"]["expire_k"])
        return done

    def _due(self, row: dict[str, Any], now: float) -> bool:
        if row["result"] is not None:
            return False
        c, end = self._timing(row)
        if row["cancel_at"] is not None:
            return now >= row["cancel_at"] + 0.1 * c
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

    def _render(
        self, row: dict[str, Any], now: float, *, base_url: str, pending: bool = False
    ) -> dict[str, Any]:
        created = row["created"]
        total = row["plan"]["total"]
        result = row["result"]
        obj: dict[str, Any] = {
            "id": row["id"],
            "type": "message_batch",
            "processing_status": "in_progress",
            "request_counts": {
                "processing": total,
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "ended_at": None,
            "created_at": rfc3339(created),
            "expires_at": rfc3339(created + WINDOW),
            "archived_at": None,
            "cancel_initiated_at": rfc3339(row["cancel_at"])
            if row["cancel_at"] is not None
            else None,
            "results_url": None,
        }
        if result is None or pending:
            if row["cancel_at"] is not None:
                obj["processing_status"] = "canceling"
            return obj
        obj["processing_status"] = "ended"
        obj["request_counts"] = result["request_counts"]
        obj["ended_at"] = rfc3339(result["ended_at"])
        if now >= created + RESULTS_RETENTION:
            obj["archived_at"] = rfc3339(created + RESULTS_RETENTION)
        else:
            obj["results_url"] = f"{base_url.rstrip('/')}/v1/messages/batches/{row['id']}/results"
        return obj

    # ------------------------------------------------------------ results

    def _materialize(self, row: dict[str, Any]) -> None:
        plan = row["plan"]
        created = row["created"]
        c, end = self._timing(row)
        if row["cancel_at"] is not None:
            done, leftover = self._done_at(row, row["cancel_at"]), "canceled"
            ended_at = row["cancel_at"] + 0.1 * c
        elif plan.get("expire_k") is not None or c > WINDOW:
            done, leftover = self._done_at(row, created + end), "expired"
            ended_at = created + end
        else:
            done, leftover = plan["total"], None
            ended_at = created + c
        cfg = plan["cfg"]
        seq = row["seq"]
        version = plan.get("version", "2026-10-21")
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        session = self.rt.cache.session()
        base = answers.digest(row["id"]).hex()[:24]
        path = self.store.results_path(row["id"])
        tmp = path.with_suffix(".tmp")
        order = None if cfg.get("ordered_results") else (cfg["seed"], seq)
        requests_path = self.store.anthropic_requests_dir / plan["requests_path"]
        with open(tmp, "wb", buffering=1 << 20) as out:
            for index, raw in iter_jsonl_indexed(requests_path, order):
                item = orjson.loads(raw)
                custom_id = item["custom_id"]
                h = f"{base}{index:08x}"
                if index >= done:
                    result: dict[str, Any] = {"type": leftover}
                else:
                    result = self._run_request(
                        item["params"], custom_id, seq, cfg, version, h, session
                    )
                counts[result["type"]] += 1
                out.write(dumps({"custom_id": custom_id, "result": result}) + b"\n")
        os.replace(tmp, path)
        session.commit()
        record = {"request_counts": counts, "ended_at": ended_at}
        self.store.execute(
            "UPDATE an_batches SET result = ? WHERE id = ?", (dumps(record).decode(), row["id"])
        )

    def _run_request(
        self,
        params: dict[str, Any],
        custom_id: str,
        seq: int,
        cfg: dict[str, Any],
        version: str,
        h: str,
        session: CacheSession,
    ) -> dict[str, Any]:
        """One request's result: validated as the Messages API would, then answered."""

        def errored(error_type: str, message: str) -> dict[str, Any]:
            return {
                "type": "errored",
                "error": {
                    "type": "error",
                    "error": {"type": error_type, "message": message},
                    "request_id": f"req_011C{h[-20:]}",
                },
            }

        fault = injected_fault(cfg, "anthropic", seq, custom_id)
        if fault == "invalid_request":
            return errored(
                "invalid_request_error", "Invalid request (emulated by --invalid-request-rate)"
            )
        try:
            validate_message_params(params, "", version)
            if params.get("stream"):
                raise bad_request("stream: streaming is not supported in Message Batches")
        except ApiError as exc:
            return errored(exc.anthropic_type, exc.message)
        if fault == "server_error":
            overloaded = (
                answers.roll(cfg["seed"], "line_error_kind", "anthropic", seq, custom_id) < 0.5
            )
            return errored(
                "overloaded_error" if overloaded else "api_error",
                ("Overloaded" if overloaded else "Internal server error")
                + " (emulated by --line-error-rate)",
            )
        malformed = answers.chance(
            cfg["malformed_rate"], cfg["seed"], "malformed", "anthropic", seq, custom_id
        )
        message = self.message(
            params,
            session,
            malformed=malformed,
            service_tier="batch",
            message_id=f"msg_01{h[-22:]}",
        )
        return {"type": "succeeded", "message": message}

    # ------------------------------------------------------------ messages

    def message(
        self,
        params: dict[str, Any],
        session: CacheSession | None = None,
        *,
        malformed: bool = False,
        service_tier: str = "standard",
        message_id: str | None = None,
    ) -> dict[str, Any]:
        own_session = session is None
        session = session or self.rt.cache.session()
        usage = anthropic_prompt_usage(params, session)
        if own_session:
            session.commit()
        rng = answers.request_rng(params)
        tools = [t for t in params.get("tools") or [] if isinstance(t, dict)]
        choice = params.get("tool_choice") or {}
        forced = None
        custom_tools = [t for t in tools if "input_schema" in t]
        if choice.get("type") == "tool":
            forced = next((t for t in tools if t.get("name") == choice.get("name")), None)
        elif choice.get("type") == "any" and custom_tools:
            forced = rng.choice(custom_tools)
        if forced is not None:
            schema = forced.get("input_schema") or {"type": "object", "properties": {}}
            value = answers.schema_answer(schema, rng)
            if malformed:
                value = answers.violate_schema(schema, value)[0]
                if not isinstance(value, dict):
                    value = {"__unexpected__": value}
            content: list[dict[str, Any]] = [
                {
                    "type": "tool_use",
                    "id": "toolu_01" + answers.digest("tool", answers.canonical(value)).hex()[:22],
                    "name": forced["name"],
                    "input": value,
                }
            ]
            stop_reason = "tool_use"
            output_tokens = max(1, answers.json_tokens(value))
        else:
            fmt = (params.get("output_config") or {}).get("format") or params.get("output_format")
            if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
                schema = fmt.get("schema") or {}
                value = answers.schema_answer(schema, rng)
                text = (
                    answers.malformed_json_text(schema, value, rng)
                    if malformed
                    else orjson.dumps(value).decode()
                )
            else:
                text = answers.text_answer(rng)
            output_tokens = max(1, answers.tokens(text))
            stop_reason = "end_turn"
            limit = params.get("max_tokens")
            if isinstance(limit, int) and output_tokens > limit:
                text = answers.truncate_to_tokens(text, limit)
                output_tokens, stop_reason = limit, "max_tokens"
            content = [{"type": "text", "text": text}]
        return {
            "id": message_id or new_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": snapshot_of(params["model"]),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": output_tokens, "service_tier": service_tier},
        }


def _validate_envelope(body: Any) -> None:
    """What a create refuses (400, all or nothing): the envelope, never a request's params."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    requests = body.get("requests")
    if not isinstance(requests, list):
        raise bad_request("requests: Field required")
    if not requests:
        raise bad_request("requests: List should have at least 1 item after validation, not 0")
    if len(requests) > MAX_REQUESTS:
        raise bad_request(
            f"requests: List should have at most {MAX_REQUESTS} items after validation, "
            f"not {len(requests)}"
        )
    seen: set[str] = set()
    for index, item in enumerate(requests):
        prefix = f"requests.{index}."
        if not isinstance(item, dict):
            raise bad_request(f"requests.{index}: Input should be a valid dictionary")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str):
            raise bad_request(f"{prefix}custom_id: Field required")
        if len(custom_id) > 64:
            raise bad_request(f"{prefix}custom_id: String should have at most 64 characters")
        if not CUSTOM_ID_RE.match(custom_id):
            raise bad_request(
                f"{prefix}custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )
        if custom_id in seen:
            raise bad_request(
                f"{prefix}custom_id: Duplicate custom_id '{custom_id}'; custom_id values must "
                "be unique within a Message Batch."
            )
        seen.add(custom_id)
        if not isinstance(item.get("params"), dict):
            raise bad_request(f"{prefix}params: Field required")


def validate_message_params(params: Any, prefix: str = "", version: str = "2026-10-21") -> None:
    """400s for Messages params, with the API's `field.path: message` wording."""
    if not isinstance(params, dict):
        raise bad_request(f"{prefix.rstrip('.') or 'body'}: Input should be a valid dictionary")
    model = params.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request(f"{prefix}model: Field required")
    known = listed_model(model)
    if known is None or known.provider != "anthropic":
        # The Messages API answers an unknown model 404 not_found_error "model: <name>".
        raise ApiError(404, f"{prefix}model: {model}")
    max_tokens = params.get("max_tokens")
    if max_tokens is None:
        raise bad_request(f"{prefix}max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise bad_request(f"{prefix}max_tokens: Input should be greater than or equal to 1")
    messages = params.get("messages")
    if not isinstance(messages, list):
        raise bad_request(f"{prefix}messages: Field required")
    if not messages:
        raise bad_request(
            f"{prefix}messages: List should have at least 1 item after validation, not 0"
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise bad_request(
                f"{prefix}messages.{index}.role: Input should be 'user' or 'assistant'"
            )
        content = message.get("content")
        if isinstance(content, list):
            for j, block in enumerate(content):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise bad_request(
                        f"{prefix}messages.{index}.content.{j}: Input should be a valid dictionary"
                    )
        elif not isinstance(content, str):
            raise bad_request(f"{prefix}messages.{index}.content: Field required")
    if version == "2026-10-21":
        for name in SAMPLING_PARAMS:
            if name in params:
                raise bad_request(
                    f"{prefix}{name}: Extra inputs are not permitted (removed in anthropic-version 2026-10-21)"
                )
    system = params.get("system")
    if system is not None and not isinstance(system, (str, list)):
        raise bad_request(f"{prefix}system: Input should be a valid string or list of text blocks")
    tools = params.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            raise bad_request(f"{prefix}tools: Input should be a valid list")
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise bad_request(f"{prefix}tools.{index}.name: Field required")
            if tool.get("type") in (None, "custom") and not isinstance(
                tool.get("input_schema"), dict
            ):
                raise bad_request(f"{prefix}tools.{index}.input_schema: Field required")
            names.append(tool["name"])
    choice = params.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in (
            "auto",
            "any",
            "tool",
            "none",
        ):
            raise bad_request(
                f"{prefix}tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'"
            )
        if choice["type"] == "tool" and choice.get("name") not in names:
            raise bad_request(
                f"{prefix}tool_choice.name: Tool '{choice.get('name')}' not found in tools"
            )
    fmt = (
        (params.get("output_config") or {}).get("format")
        if isinstance(params.get("output_config"), dict)
        else None
    )
    if fmt is not None and (
        not isinstance(fmt, dict)
        or fmt.get("type") != "json_schema"
        or not isinstance(fmt.get("schema"), dict)
    ):
        raise bad_request(
            f"{prefix}output_config.format: expected {{type: 'json_schema', schema: {{...}}}}"
        )
    breakpoints = 0
    for _, _, control in anthropic_blocks(params):
        if not control:
            continue
        breakpoints += 1
        if not isinstance(control, dict) or control.get("type") != "ephemeral":
            raise bad_request(f"{prefix}cache_control.type: Input should be 'ephemeral'")
        if control.get("ttl") is not None and control["ttl"] not in ANTHROPIC_TTLS:
            raise bad_request(f"{prefix}cache_control.ttl: Input should be '5m' or '1h'")
    if breakpoints > ANTHROPIC_MAX_BREAKPOINTS:
        raise bad_request(
            f"A maximum of {ANTHROPIC_MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {breakpoints}."
        )
