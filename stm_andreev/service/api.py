"""The HTTP API (FastAPI; the OpenAPI page is at ``/docs``) and the web page's files.

Every change needs ``Authorization: Bearer <token>``; reads need it too unless the service
opens them (loopback bind or ``--open-status``). Errors are JSON ``{"error": message}`` with a
4xx status; an unexpected exception is logged with its traceback and answered 500 without it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from stm_andreev.config import ConfigError

from .auth import Auth
from .core import StationService
from .limits import MAX_BODY_BYTES, BodyLimitMiddleware, LoopbackHostMiddleware
from .streaming import event_stream
from .supervisor import QueueRequestError, StationBusyError

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
#: Longest plan text accepted (characters); the body limit bounds the request as a whole.
MAX_PLAN_CHARS = 128 * 1024


class Unauthorized(Exception):
    pass


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan_text: str = Field(min_length=1, max_length=MAX_PLAN_CHARS,
                           description="the plan YAML, as in configs/plans/")
    station: str | None = Field(None, max_length=4096,
                                description="station file or name (default: the service's)")


class PlanEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan_text: str | None = Field(None, min_length=1, max_length=MAX_PLAN_CHARS)
    station: str | None = Field(None, min_length=1, max_length=4096)


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=0, le=100_000, description="new position in the queue (0 = first)")


def create_app(service: StationService, auth: Auth, *, loopback_only: bool = False) -> FastAPI:
    """:param loopback_only: answer only requests whose Host is a loopback name (a service
        bound to loopback: see :class:`LoopbackHostMiddleware`)."""
    app = FastAPI(
        title="stm-andreev station service",
        description="The queue, the running plan and its live data. Changes need "
                    "`Authorization: Bearer <token>`.",
        version="1",
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    if loopback_only:
        app.add_middleware(LoopbackHostMiddleware)

    def token_of(request: Request) -> str | None:
        return Auth.bearer(request.headers.get("authorization"))

    def may_change(request: Request) -> None:
        if not auth.valid(token_of(request)):
            raise Unauthorized

    def may_read(request: Request) -> None:
        if auth.open_reads:
            return
        # EventSource cannot send headers: the stream also takes the token as a parameter
        # (the service keeps no access log, so it is not written anywhere).
        if not (auth.valid(token_of(request)) or auth.valid(request.query_params.get("token"))):
            raise Unauthorized

    # ------------------------------------------------------------------ errors
    def error(status: int, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"error": message, **extra}, status_code=status)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        response = error(401, "missing or wrong token (Authorization: Bearer <token>)")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: "
            f"{e.get('msg', 'invalid')}"
            for e in exc.errors()
        ]
        return error(422, "bad request: " + "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> JSONResponse:
        return error(422, f"plan refused: {exc}")

    @app.exception_handler(LookupError)
    async def _missing(request: Request, exc: LookupError) -> JSONResponse:
        return error(404, str(exc.args[0]) if exc.args else "not found")

    @app.exception_handler(QueueRequestError)
    async def _conflict(request: Request, exc: QueueRequestError) -> JSONResponse:
        return error(409, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("request %s %s failed", request.method, request.url.path, exc_info=exc)
        return error(500, f"internal error ({type(exc).__name__}); see the service log")

    change = [Depends(may_change)]
    read = [Depends(may_read)]
    sup = service.supervisor

    # ------------------------------------------------------------------ page
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # ------------------------------------------------------------------ reads
    @app.get("/api/status", dependencies=read, summary="current plan, progress, ETA, "
             "temperatures, interlock state, last events, queue hold")
    def status() -> dict[str, Any]:
        return service.status()

    @app.get("/api/queue", dependencies=read, summary="the queue, in order")
    def queue() -> list[dict[str, Any]]:
        return service.queue_view()

    @app.get("/api/spectrum", dependencies=read, summary="the newest spectrum and its summary")
    def spectrum() -> dict[str, Any]:
        return service.monitor.spectrum

    @app.get("/api/series", dependencies=read,
             summary="per-spectrum summaries of the followed run so far")
    def series() -> list[dict[str, Any]]:
        return service.monitor.series

    @app.get("/api/stream", dependencies=read, summary="server-sent events: status, series, "
             "spectrum", response_class=StreamingResponse)
    def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(
            event_stream(service, request.is_disconnected),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # ------------------------------------------------------------------ queue changes
    @app.post("/api/queue", dependencies=change, status_code=201, summary="queue a plan")
    def add(body: PlanIn) -> dict[str, Any]:
        item = sup.add(body.plan_text, body.station)
        return {"id": item.id, "plan_name": item.plan_name, "state": item.state}

    @app.delete("/api/queue/{item_id}", dependencies=change, summary="remove a plan that "
                "is not running")
    def remove(item_id: str) -> dict[str, Any]:
        sup.remove(item_id)
        return {"removed": item_id}

    @app.patch("/api/queue/{item_id}", dependencies=change, summary="edit a queued plan")
    def edit(item_id: str, body: PlanEdit) -> dict[str, Any]:
        if body.plan_text is None and body.station is None:
            return JSONResponse({"error": "nothing to change: give plan_text and/or station"},
                                status_code=422)
        item = sup.edit(item_id, body.plan_text, body.station)
        return {"id": item.id, "plan_name": item.plan_name, "state": item.state}

    @app.post("/api/queue/{item_id}/move", dependencies=change, summary="reorder a queued plan")
    def move(item_id: str, body: MoveIn) -> list[dict[str, Any]]:
        sup.move(item_id, body.index)
        return service.queue_view()

    @app.post("/api/queue/{item_id}/skip", dependencies=change,
              summary="leave a failed/aborted plan and let the queue go on")
    def skip(item_id: str) -> dict[str, Any]:
        sup.skip(item_id)
        return {"skipped": item_id}

    @app.post("/api/queue/{item_id}/retry", dependencies=change, status_code=201,
              summary="queue a failed/aborted plan again, first in line")
    def retry(item_id: str) -> dict[str, Any]:
        copy = sup.retry(item_id)
        return {"id": copy.id, "retry_of": item_id}

    @app.post("/api/queue-control/stop-after-current", dependencies=change,
              summary="start no further plan once the current one ends")
    def stop_after_current() -> dict[str, Any]:
        sup.stop_after_current()
        return {"queue_hold": sup.queue.hold}

    @app.post("/api/queue-control/resume", dependencies=change,
              summary="let the queue advance again")
    def resume_queue() -> dict[str, Any]:
        sup.resume_queue()
        return {"queue_hold": sup.queue.hold}

    # ------------------------------------------------------------------ run control
    @app.post("/api/run/{command}", dependencies=change,
              summary="pause, resume or abort the running plan (its control file)")
    def run_command(command: Literal["pause", "resume", "abort"]) -> dict[str, Any]:
        path = sup.control(command)
        log.info("run command %s sent to %s", command, path)
        return {"sent": command, "run_file": path}

    return app


__all__ = ["create_app", "StationBusyError"]
