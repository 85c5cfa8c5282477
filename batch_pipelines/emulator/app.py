"""The HTTP layer: a Starlette app speaking OpenAI (`/v1/...`) and Anthropic (`/v1/messages...`).

Thin by design: each route checks auth, parses the request, calls the state model in a worker
thread and renders the answer or the provider's error body. Every response carries the provider's
request-id header (`x-request-id` for OpenAI, `request-id` for Anthropic).

Admin routes (no auth): `GET/POST /_emulator/config` (read / change flags), `POST
/_emulator/advance` (`{"seconds": N}` moves the emulator clock forward), `POST /_emulator/reset`
(forget everything), `GET /_emulator/health`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from .anthropic_state import API_VERSIONS, MAX_BODY_BYTES, validate_message_params
from .errors import ApiError, LostResponse, WorkNeeded, bad_request
from .state import EmulatorState
from .store import new_id

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _provider(path: str) -> str:
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1"):
        return "openai"
    return "admin"


def _render_error(provider: str, exc: ApiError, request_id: str) -> Response:
    if isinstance(exc, LostResponse):  # the gateway's page, not the API's error body
        return Response(exc.HTML, status_code=exc.status, media_type="text/html")
    if provider == "anthropic":
        response = json_response(exc.anthropic_body(request_id), exc.status, exc.headers)
        response.headers["request-id"] = request_id
    elif provider == "openai":
        response = json_response(exc.openai_body(), exc.status, exc.headers)
        response.headers["x-request-id"] = request_id
    else:
        response = json_response({"error": exc.message}, exc.status, exc.headers)
    return response


def _bearer(request: Request) -> str:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def openai_route(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        request_id = new_id("openai_request")
        try:
            if not _bearer(request):
                raise ApiError(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                )
            response = await handler(request)
        except ApiError as exc:
            return _render_error("openai", exc, request_id)
        except Exception:
            log.exception("emulator: unhandled error on %s", request.url.path)
            return _render_error(
                "openai", ApiError(500, "The emulator had an internal error."), request_id
            )
        response.headers["x-request-id"] = request_id
        return response

    return endpoint


def anthropic_route(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        request_id = new_id("anthropic_request")
        try:
            if not (_bearer(request) or request.headers.get("x-api-key", "").strip()):
                raise ApiError(401, "x-api-key header is required")
            version = request.headers.get("anthropic-version")
            if not version:
                raise bad_request("anthropic-version: header is required")
            if version not in API_VERSIONS:
                raise bad_request(f"anthropic-version: invalid version '{version}'")
            request.state.anthropic_version = version
            response = await handler(request)
        except ApiError as exc:
            return _render_error("anthropic", exc, request_id)
        except Exception:
            log.exception("emulator: unhandled error on %s", request.url.path)
            return _render_error("anthropic", ApiError(500, "Internal server error"), request_id)
        response.headers["request-id"] = request_id
        return response

    return endpoint


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
            "using your HTTP library correctly.)"
        ) from exc


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise bad_request(f"Invalid '{name}': expected an integer.", param=name) from exc


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def create_app(state: EmulatorState) -> Starlette:
    oa = state.openai
    an = state.anthropic

    # ------------------------------------------------------------ OpenAI files

    @openai_route
    async def files_create(request: Request) -> Response:
        async with request.form(max_files=1, max_fields=16) as form:
            upload = form.get("file")
            purpose = form.get("purpose")
            if upload is None or isinstance(upload, str):
                raise bad_request("Missing required parameter: 'file'.", param="file")
            if not isinstance(purpose, str) or not purpose:
                raise bad_request("Missing required parameter: 'purpose'.", param="purpose")
            expires_seconds = None
            if form.get("expires_after[seconds]") is not None:
                anchor = form.get("expires_after[anchor]")
                try:
                    expires_seconds = int(str(form.get("expires_after[seconds]")))
                except ValueError as exc:
                    raise bad_request(
                        "Invalid 'expires_after[seconds]'.", param="expires_after"
                    ) from exc
                if anchor != "created_at" or not 3600 <= expires_seconds <= 2_592_000:
                    raise bad_request(
                        "Invalid 'expires_after': expected anchor 'created_at' and 3600..2592000 seconds.",
                        param="expires_after",
                    )
            obj = await run_in_threadpool(
                oa.upload_file,
                upload.file,
                upload.filename or "upload.jsonl",
                purpose,
                expires_seconds,
            )
        return json_response(obj)

    @openai_route
    async def files_list(request: Request) -> Response:
        q = request.query_params
        page = await run_in_threadpool(
            lambda: oa.list_files(
                after=q.get("after") or None,
                limit=_int_param(request, "limit", 10_000),
                order=q.get("order") or "desc",
                purpose=q.get("purpose") or None,
            )
        )
        return json_response(page)

    @openai_route
    async def files_retrieve(request: Request) -> Response:
        return json_response(await run_in_threadpool(oa.get_file, request.path_params["file_id"]))

    @openai_route
    async def files_delete(request: Request) -> Response:
        return json_response(
            await run_in_threadpool(oa.delete_file, request.path_params["file_id"])
        )

    @openai_route
    async def files_content(request: Request) -> Response:
        path = await run_in_threadpool(oa.file_content_path, request.path_params["file_id"])
        return FileResponse(path, media_type="application/octet-stream")

    # ------------------------------------------------------------ OpenAI batches

    @openai_route
    async def batches_create(request: Request) -> Response:
        body = await _json_body(request)
        return json_response(await run_in_threadpool(oa.create_batch, body))

    @openai_route
    async def batches_list(request: Request) -> Response:
        after = request.query_params.get("after") or None
        limit = _int_param(request, "limit", 20)
        return json_response(
            await run_in_threadpool(lambda: oa.list_batches(after=after, limit=limit))
        )

    @openai_route
    async def batches_retrieve(request: Request) -> Response:
        batch_id = request.path_params["batch_id"]
        try:  # polling is the hot path: answer on the event loop unless results must be built
            batch = oa.get_batch(batch_id, count_as_retrieve=True, inline=True)
        except WorkNeeded:
            batch = await run_in_threadpool(lambda: oa.get_batch(batch_id, count_as_retrieve=True))
        return json_response(batch)

    @openai_route
    async def batches_cancel(request: Request) -> Response:
        return json_response(
            await run_in_threadpool(oa.cancel_batch, request.path_params["batch_id"])
        )

    # ------------------------------------------------------------ OpenAI synchronous

    @openai_route
    async def chat_completions(request: Request) -> Response:
        body = await _json_body(request)
        await run_in_threadpool(state.log_sync_request, "openai", "/v1/chat/completions", body)
        return json_response(await run_in_threadpool(oa.chat_completion, body))

    @openai_route
    async def embeddings(request: Request) -> Response:
        body = await _json_body(request)
        await run_in_threadpool(state.log_sync_request, "openai", "/v1/embeddings", body)
        return json_response(await run_in_threadpool(oa.embeddings, body))

    # ------------------------------------------------------------ Anthropic

    @anthropic_route
    async def messages_create(request: Request) -> Response:
        body = await _json_body(request)
        await run_in_threadpool(state.log_sync_request, "anthropic", "/v1/messages", body)
        if isinstance(body, dict) and body.get("stream"):
            raise bad_request("stream: the emulator does not support streaming")
        validate_message_params(body, "", request.state.anthropic_version)
        return json_response(await run_in_threadpool(an.message, body))

    @anthropic_route
    async def message_batches_create(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise ApiError(413, "Request exceeds the maximum allowed number of bytes (256 MB).")
        raw = await request.body()
        version = request.state.anthropic_version
        batch = await run_in_threadpool(lambda: an.create_batch(raw, version=version))
        return json_response(batch)

    @anthropic_route
    async def message_batches_list(request: Request) -> Response:
        q = request.query_params
        base = _base_url(request)
        page = await run_in_threadpool(
            lambda: an.list_batches(
                after_id=q.get("after_id") or None,
                before_id=q.get("before_id") or None,
                limit=_int_param(request, "limit", 20),
                base_url=base,
            )
        )
        return json_response(page)

    @anthropic_route
    async def message_batches_retrieve(request: Request) -> Response:
        batch_id, base = request.path_params["batch_id"], _base_url(request)
        try:
            batch = an.get_batch(batch_id, base_url=base, count_as_retrieve=True, inline=True)
        except WorkNeeded:
            batch = await run_in_threadpool(
                lambda: an.get_batch(batch_id, base_url=base, count_as_retrieve=True)
            )
        return json_response(batch)

    @anthropic_route
    async def message_batches_cancel(request: Request) -> Response:
        batch_id, base = request.path_params["batch_id"], _base_url(request)
        return json_response(
            await run_in_threadpool(lambda: an.cancel_batch(batch_id, base_url=base))
        )

    @anthropic_route
    async def message_batches_delete(request: Request) -> Response:
        return json_response(
            await run_in_threadpool(an.delete_batch, request.path_params["batch_id"])
        )

    @anthropic_route
    async def message_batches_results(request: Request) -> Response:
        path = await run_in_threadpool(an.results_path, request.path_params["batch_id"])
        return FileResponse(path, media_type="application/x-jsonl")

    # ------------------------------------------------------------ admin

    async def admin_config(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = orjson.loads(await request.body() or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object of flags")
                config = state.set_config(**changes)
            except (ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response(config.to_dict())
        return json_response(state.config.to_dict())

    async def admin_advance(request: Request) -> Response:
        try:
            data = orjson.loads(await request.body() or b"{}")
            offset = state.advance(float(data.get("seconds", 0)))
        except (ValueError, TypeError, AttributeError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"clock_offset": offset})

    async def admin_reset(request: Request) -> Response:
        await run_in_threadpool(state.reset)
        return json_response({"reset": True})

    async def admin_health(request: Request) -> Response:
        return json_response({"ok": True, "home": str(state.home)})

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        provider = _provider(request.url.path)
        request_id = new_id("anthropic_request" if provider == "anthropic" else "openai_request")
        if status == 404:
            message = f"Invalid URL ({request.method} {request.url.path})"
        elif status == 405:
            message = f"Method {request.method} not allowed for {request.url.path}"
        else:
            message = str(getattr(exc, "detail", "") or exc)
        return _render_error(provider, ApiError(status, message), request_id)

    routes = [
        Route("/v1/files", files_create, methods=["POST"]),
        Route("/v1/files", files_list, methods=["GET"]),
        Route("/v1/files/{file_id}", files_retrieve, methods=["GET"]),
        Route("/v1/files/{file_id}", files_delete, methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", files_content, methods=["GET"]),
        Route("/v1/batches", batches_create, methods=["POST"]),
        Route("/v1/batches", batches_list, methods=["GET"]),
        Route("/v1/batches/{batch_id}", batches_retrieve, methods=["GET"]),
        Route("/v1/batches/{batch_id}/cancel", batches_cancel, methods=["POST"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/messages", messages_create, methods=["POST"]),
        Route("/v1/messages/batches", message_batches_create, methods=["POST"]),
        Route("/v1/messages/batches", message_batches_list, methods=["GET"]),
        Route("/v1/messages/batches/{batch_id}", message_batches_retrieve, methods=["GET"]),
        Route("/v1/messages/batches/{batch_id}", message_batches_delete, methods=["DELETE"]),
        Route("/v1/messages/batches/{batch_id}/cancel", message_batches_cancel, methods=["POST"]),
        Route("/v1/messages/batches/{batch_id}/results", message_batches_results, methods=["GET"]),
        Route("/_emulator/config", admin_config, methods=["GET", "POST"]),
        Route("/_emulator/advance", admin_advance, methods=["POST"]),
        Route("/_emulator/reset", admin_reset, methods=["POST"]),
        Route("/_emulator/health", admin_health, methods=["GET"]),
    ]
    exception_handlers: dict[Any, Any] = {404: not_found, 405: not_found, HTTPException: not_found}
    app = Starlette(routes=routes, exception_handlers=exception_handlers)
    app.state.emulator = state
    return app
