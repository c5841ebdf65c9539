"""What every Titan service process shares: connections, state, heartbeats, /health, /metrics.

A service module builds its FastAPI app with `create_service_app()`, passing its routers
and a `setup` hook that registers its background loops on the `ServiceRuntime`. The
lifespan connects to Postgres and Redis, starts the audit writer, the heartbeat and the
dependency monitor, then the service's loops; on SIGTERM it stops them all within the
shutdown budget (10 s).

A dependency that is down at start does not stop the process: the service stays up,
reports `unhealthy` with the reason code (DB_UNAVAILABLE, REDIS_UNAVAILABLE), its mode goes
to PAUSE so nothing new is executed, and it recovers by itself when the dependency returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from titan_common import __version__, metrics
from titan_common.audit import AuditQueueFull, AuditWriter
from titan_common.bus import EVENTS, REDIS_ERRORS, Publisher, heartbeat_key, make_redis
from titan_common.bus.client import ping as redis_ping
from titan_common.clock import now_ms
from titan_common.db.engine import make_engine, make_sessionmaker
from titan_common.db.engine import ping as db_ping
from titan_common.db.models import SystemStateRow
from titan_common.exchanges.types import ExchangeError
from titan_common.logging import best_effort
from titan_common.messages import Correlation, Event, Severity
from titan_common.reasons import ReasonCode
from titan_common.request_guard import NUL_MESSAGE, mutation_refusal, nul_in_json, nul_in_url
from titan_common.settings import CommonSettings
from titan_common.system_state import Mode, SystemState, next_state, severity

T = TypeVar("T")
log = logging.getLogger(__name__)

LoopFactory = Callable[["ServiceRuntime"], Awaitable[None]]
SHUTDOWN_BUDGET_S = 8.0  # under the 10 s SIGTERM promise, leaving uvicorn its share


@dataclass
class DependencyCheck:
    ok: bool = False
    latency_ms: float | None = None
    error: str | None = None
    checked_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "latency_ms": None}
        if self.latency_ms is not None:
            body["latency_ms"] = round(self.latency_ms, 3)
        if self.error:
            body["error"] = self.error
        return body


@dataclass
class ServiceRuntime:
    """One service process: its connections, its own reason codes, and its background tasks."""

    name: str
    settings: CommonSettings
    needs_db: bool = True
    needs_redis: bool = True
    started_monotonic: float = field(default_factory=time.monotonic)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    redis: Redis | None = None
    audit: AuditWriter | None = None
    publisher: Publisher | None = None
    checks: dict[str, DependencyCheck] = field(default_factory=dict)
    extra_health: list[Callable[[], dict[str, Any]]] = field(default_factory=list)
    # what must hold before the service can act (startup recovery done...); /health says `ready`
    readiness: list[Callable[[], bool]] = field(default_factory=list)
    # the service's own long-lived objects (its engine, its reconciler...), for its routes
    components: dict[str, Any] = field(default_factory=dict)
    # what the heartbeat says beside the mode (execution: whether its venue is connected), for
    # readers that must not poll /health every second
    beat_fields: dict[str, Any] = field(default_factory=dict)
    # reason codes this service treats more strictly than the shared table (see system_state)
    mode_overrides: dict[ReasonCode, Mode] = field(default_factory=dict)
    _reasons: set[ReasonCode] = field(default_factory=set)
    _state: SystemState | None = None
    _loops: list[tuple[str, LoopFactory]] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    # --- state -----------------------------------------------------------------------

    @property
    def state(self) -> SystemState:
        if self._state is None:
            self._state = SystemState(mode=Mode.NORMAL, since_ms=now_ms())
        return self._state

    @property
    def ready(self) -> bool:
        """Started, and every readiness probe of the service holds: it can act, not just answer."""
        return bool(self._tasks) and not self.stop.is_set() and all(probe() for probe in self.readiness)

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic

    def set_reason(self, reason: ReasonCode, active: bool = True) -> None:
        """Raise or clear one of this service's reason codes; the mode follows."""
        if (reason in self._reasons) == active:
            return
        if active:
            self._reasons.add(reason)
        else:
            self._reasons.discard(reason)
        self._refresh_state()

    def _refresh_state(self) -> None:
        reasons = set(self._reasons)
        if self.audit is not None:
            reasons |= self.audit.reasons
        before = self.state
        after = next_state(before, reasons, now_ms(), self.mode_overrides)
        self._state = after
        metrics.SERVICE_MODE.labels(self.name).set(severity(after.mode))
        if after.mode is not before.mode or after.reasons != before.reasons:
            level = logging.WARNING if severity(after.mode) > severity(Mode.NORMAL) else logging.INFO
            log.log(level, "MODE %s -> %s reasons=%s", before.mode, after.mode, ",".join(after.reasons) or "-")
            if after.mode is not before.mode:
                try:
                    self.emit(
                        "MODE_CHANGE",
                        severity=Severity.WARNING if level == logging.WARNING else Severity.INFO,
                        reason_code=after.reasons[0] if after.reasons else None,
                        payload={"from": before.mode, "to": after.mode, "reasons": list(after.reasons)},
                    )
                except AuditQueueFull:
                    # The mode has already changed (that is the fail-closed part). A full audit
                    # queue must not turn a state change into a crash of whichever loop raised it;
                    # the log line above is the record.
                    log.critical("MODE_CHANGE %s -> %s not audited: audit queue full", before.mode, after.mode)

    # --- events ----------------------------------------------------------------------

    def emit(
        self,
        event_type: str,
        *,
        severity: Severity = Severity.INFO,
        reason_code: ReasonCode | None = None,
        stage: str | None = None,
        correlation: Correlation | None = None,
        operator_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Event:
        """Audit an event (and broadcast it). Raises AuditQueueFull if it cannot be recorded."""
        event = Event(
            ts_ms=now_ms(),
            service=self.name,
            event_type=event_type,
            severity=severity,
            reason_code=reason_code,
            stage=stage,
            correlation=correlation or Correlation(run_id=self.settings.run_id),
            operator_id=operator_id,
            payload=payload or {},
        )
        if self.audit is not None:
            self.audit.submit(event)
        if self.publisher is not None:
            task = asyncio.get_running_loop().create_task(self._broadcast(event))
            task.add_done_callback(_log_task_error)
        return event

    def broadcast(self, event_type: str, payload: dict[str, Any], *, correlation: Correlation | None = None) -> Event:
        """Broadcast a frequent snapshot on titan:events without auditing it (its record
        is its own table). State changes go through `emit`."""
        event = Event(
            ts_ms=now_ms(),
            service=self.name,
            event_type=event_type,
            correlation=correlation or Correlation(run_id=self.settings.run_id),
            payload=payload,
        )
        if self.publisher is not None:
            task = asyncio.get_running_loop().create_task(self._broadcast(event))
            task.add_done_callback(_log_task_error)
        return event

    async def _broadcast(self, event: Event) -> None:
        assert self.publisher is not None
        # best effort: the audit row is the record
        with best_effort(log, "broadcasting an event", *REDIS_ERRORS, level=logging.DEBUG):
            await self.publisher.publish(EVENTS, event)

    # --- loops -----------------------------------------------------------------------

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less when the service is stopping: a loop's pause."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)

    def add_loop(self, name: str, factory: LoopFactory) -> None:
        """Register a background coroutine; it is started after connections are up."""
        self._loops.append((name, factory))

    async def start(self) -> None:
        if self.needs_db:
            assert self.settings.database_url is not None
            self.engine = make_engine(self.settings.database_url, application_name=f"titan-{self.name}")
            self.sessions = make_sessionmaker(self.engine)
            self.audit = AuditWriter(self.engine, service=self.name, audit_dir=self.settings.var_dir / "audit")
            self.audit.start()
        if self.needs_redis:
            assert self.settings.redis_url is not None
            self.redis = make_redis(self.settings.redis_url)
            self.publisher = Publisher(self.redis)
        metrics.SERVICE_UP.labels(self.name).set(1)
        await self.check_dependencies()
        self._spawn("dependency-monitor", _dependency_monitor)
        if self.needs_redis:
            self._spawn("heartbeat", _heartbeat)
        for name, factory in self._loops:
            self._spawn(name, factory)
        log.info("%s started (pid %d, mode %s)", self.name, os.getpid(), self.state.mode)

    def _spawn(self, name: str, factory: LoopFactory) -> None:
        async def guarded() -> None:
            # A loop that dies is restarted after a pause: a background loop must never vanish.
            while not self.stop.is_set():
                try:
                    await factory(self)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    metrics.LOOP_ERRORS.labels(self.name, name).inc()
                    log.exception("loop %s crashed; restarting in 1s", name)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), timeout=1.0)

        self._tasks.append(asyncio.create_task(guarded(), name=f"{self.name}:{name}"))

    async def until_stopped(self, source: AsyncIterator[T]) -> AsyncIterator[T]:
        """The items of `source` until the service stops. A loop waiting on a quiet stream (a
        private stream with nothing to say) then ends at once, instead of holding the shutdown
        for its whole budget; the pending read is cancelled, never an item being handled."""
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            while True:
                nxt = asyncio.ensure_future(anext(source))
                await asyncio.wait({nxt, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not nxt.done():
                    nxt.cancel()
                    await asyncio.gather(nxt, return_exceptions=True)
                    return
                try:
                    item = nxt.result()
                except StopAsyncIteration:
                    return
                yield item
        finally:
            stopping.cancel()
            closer = getattr(source, "aclose", None)
            if closer is not None:
                closing = (RuntimeError, ExchangeError, *REDIS_ERRORS)
                with best_effort(log, "closing a stream", *closing, level=logging.DEBUG):
                    await closer()

    async def shutdown(self) -> None:
        started = time.monotonic()
        self.stop.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=SHUTDOWN_BUDGET_S / 2)
            if pending:
                log.warning("loops still running at shutdown, cancelled: %s", ", ".join(t.get_name() for t in pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.redis is not None:
            with best_effort(log, "deleting the heartbeat", *REDIS_ERRORS):
                await self.redis.delete(heartbeat_key(self.name))
        if self.audit is not None:
            remaining = max(0.5, SHUTDOWN_BUDGET_S - (time.monotonic() - started) - 1.0)
            await self.audit.stop(timeout=remaining)
        if self.redis is not None:
            with best_effort(log, "closing Redis", *REDIS_ERRORS):
                await self.redis.aclose()
        if self.engine is not None:
            await self.engine.dispose()
        metrics.SERVICE_UP.labels(self.name).set(0)
        log.info("%s stopped in %.2fs", self.name, time.monotonic() - started)

    # --- health ----------------------------------------------------------------------

    async def check_dependencies(self) -> None:
        if self.needs_db and self.engine is not None:
            self.checks["db"] = await _timed_check(db_ping(self.engine))
            self.set_reason(ReasonCode.DB_UNAVAILABLE, not self.checks["db"].ok)
        if self.needs_redis and self.redis is not None:
            self.checks["redis"] = await _timed_check(redis_ping(self.redis))
            self.set_reason(ReasonCode.REDIS_UNAVAILABLE, not self.checks["redis"].ok)
        for dependency, check in self.checks.items():
            metrics.DEPENDENCY_UP.labels(self.name, dependency).set(1 if check.ok else 0)
            if check.latency_ms is not None:
                metrics.DEPENDENCY_LATENCY_MS.labels(self.name, dependency).set(check.latency_ms)
        if self.audit is not None:
            metrics.AUDIT_QUEUE_PCT.labels(self.name).set(self.audit.queue_pct)
            metrics.AUDIT_LAG_MS.labels(self.name).set(self.audit.lag_ms)
            metrics.AUDIT_WRITTEN.labels(self.name).set(self.audit.written)
        self._refresh_state()

    def health(self) -> dict[str, Any]:
        checks: dict[str, Any] = {name: check.as_dict() for name, check in self.checks.items()}
        if self.audit is not None:
            checks["audit_writer"] = self.audit.snapshot()
        for extra in self.extra_health:
            checks.update(extra())
        state = self.state
        if any(not c.ok for c in self.checks.values()) or state.mode is Mode.EXIT:
            status = "unhealthy"
        elif state.mode is not Mode.NORMAL:
            status = "degraded"
        else:
            status = "ok"
        return {
            "service": self.name,
            "status": status,
            "ready": self.ready,
            "uptime": round(self.uptime_s, 3),
            "mode": state.mode.value,
            "reasons": [r.value for r in state.reasons],
            "since_ms": state.since_ms,
            "version": __version__,
            "pid": os.getpid(),
            "ts_ms": now_ms(),
            "checks": checks,
        }


async def _timed_check(probe: Awaitable[float]) -> DependencyCheck:
    try:
        latency = await asyncio.wait_for(probe, timeout=2.0)
    except Exception as exc:
        return DependencyCheck(ok=False, error=f"{type(exc).__name__}: {str(exc)[:160]}", checked_ms=now_ms())
    return DependencyCheck(ok=True, latency_ms=latency, checked_ms=now_ms())


async def _dependency_monitor(runtime: ServiceRuntime) -> None:
    interval = runtime.settings.heartbeat_interval_s
    while not runtime.stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.stop.wait(), timeout=interval)
        if runtime.stop.is_set():
            return
        await runtime.check_dependencies()
        await _persist_state(runtime)


async def _persist_state(runtime: ServiceRuntime) -> None:
    """Keep this service's row in system_state current (best effort: Redis carries it too)."""
    if runtime.sessions is None or not runtime.checks.get("db", DependencyCheck()).ok:
        return
    state = runtime.state
    values = {
        "service": runtime.name,
        "mode": state.mode.value,
        "reasons": [r.value for r in state.reasons],
        "since_ms": state.since_ms,
        "updated_ms": now_ms(),
    }
    statement = insert(SystemStateRow).values(**values)
    statement = statement.on_conflict_do_update(index_elements=["service"], set_=values)
    try:
        async with runtime.sessions() as session, session.begin():
            await session.execute(statement)
    except Exception as exc:
        log.warning("could not persist system_state: %s", exc)


def _port_or_none(settings: CommonSettings, name: str) -> int | None:
    try:
        return settings.port_of(name)
    except (AttributeError, ValueError):
        return None  # a process without a port of its own (the worker)


async def _heartbeat(runtime: ServiceRuntime) -> None:
    """Refresh titan:hb:<service> with a TTL: a missing key means the service is gone."""
    assert runtime.redis is not None
    settings = runtime.settings
    while not runtime.stop.is_set():
        state = runtime.state
        beat = {
            "service": runtime.name,
            "pid": os.getpid(),
            "ts_ms": now_ms(),
            "mode": state.mode.value,
            "reasons": [r.value for r in state.reasons],
            "since_ms": state.since_ms,
            "port": _port_or_none(settings, runtime.name),
            **runtime.beat_fields,
        }
        try:
            await runtime.redis.set(heartbeat_key(runtime.name), json.dumps(beat), ex=settings.heartbeat_ttl_s)
        except Exception as exc:
            log.warning("heartbeat failed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.stop.wait(), timeout=settings.heartbeat_interval_s)


def _log_task_error(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("background task %s failed: %s", task.get_name(), task.exception())


# --- errors: one JSON shape for every 4xx/5xx -----------------------------------------


def error_body(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"status": status, "code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as {"error": {"status", "code", "message", "details"?}}."""

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = exc.detail if isinstance(exc.detail, str) and exc.detail.isupper() else _status_code_name(exc)
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return JSONResponse(
            error_body(exc.status_code, code, message), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in err.get("loc", ())[1:]) or "body", "problem": err.get("msg")}
            for err in exc.errors()
        ]
        return JSONResponse(error_body(422, "INVALID_REQUEST", "request validation failed", details), status_code=422)

    @app.exception_handler(AuditQueueFull)
    async def _audit_full(_request: Request, exc: AuditQueueFull) -> JSONResponse:
        # no audit row, no action: refuse rather than act unrecorded
        return JSONResponse(error_body(503, ReasonCode.DB_WRITER_QUEUE_FULL.value, str(exc)), status_code=503)


class RequestGuard:
    """Refuses, before any route runs and in the one error shape (titan_common.request_guard):
    a NUL byte anywhere in a request (422; Postgres text cannot hold one), and a mutation
    from another site's Origin (403) or with a body that is not JSON (415)."""

    MAX_BODY = 1 << 20  # Titan's bodies are small; a bigger one is refused, never buffered

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if nul_in_url(scope.get("raw_path") or scope["path"].encode()) or nul_in_url(scope["query_string"]):
            await self._refuse(scope, receive, send, 422, "INVALID_REQUEST", NUL_MESSAGE)
            return
        length = headers.get("content-length", "")
        has_body = "transfer-encoding" in headers or (length.strip() not in ("", "0"))
        refusal = mutation_refusal(
            scope["method"], origin=headers.get("origin"), host=headers.get("host"),
            content_type=headers.get("content-type"), has_body=has_body,
        )  # fmt: skip
        if refusal is not None:
            await self._refuse(scope, receive, send, *refusal)
            return
        if not has_body:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.MAX_BODY:
                await self._refuse(scope, receive, send, 413, "BODY_TOO_LARGE", "the request body is over 1 MiB")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if nul_in_json(body):
            await self._refuse(scope, receive, send, 422, "INVALID_REQUEST", NUL_MESSAGE)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Any, receive: Any, send: Any, status: int, code: str, message: str) -> None:
        await JSONResponse(error_body(status, code, message), status_code=status)(scope, receive, send)


def _status_code_name(exc: StarletteHTTPException) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(exc.status_code).name
    except ValueError:
        return "ERROR"


# --- the app factory ---------------------------------------------------------------------


def create_service_app(
    name: str,
    settings: CommonSettings,
    *,
    routers: Iterable[APIRouter] = (),
    setup: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
    needs_db: bool = True,
    needs_redis: bool = True,
    title: str | None = None,
    guard_mutations: bool = True,
) -> FastAPI:
    """A service's app. `guard_mutations=False` only for the simulator, whose exchange faces
    must answer like the exchange does."""
    runtime = ServiceRuntime(name=name, settings=settings, needs_db=needs_db, needs_redis=needs_redis)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.started_monotonic = time.monotonic()
        if setup is not None:
            await setup(runtime)
        await runtime.start()
        try:
            yield
        finally:
            await runtime.shutdown()

    app = FastAPI(title=title or f"Titan {name}", version=__version__, lifespan=lifespan)
    app.state.runtime = runtime
    install_error_handlers(app)
    if guard_mutations:
        app.add_middleware(RequestGuard)

    @app.get("/health", tags=["ops"])
    async def health() -> JSONResponse:
        body = runtime.health()
        return JSONResponse(body, status_code=503 if body["status"] == "unhealthy" else 200)

    @app.get("/metrics", tags=["ops"])
    async def prometheus_metrics() -> Response:
        if runtime.audit is not None:
            metrics.AUDIT_QUEUE_PCT.labels(name).set(runtime.audit.queue_pct)
            metrics.AUDIT_LAG_MS.labels(name).set(runtime.audit.lag_ms)
        payload, content_type = metrics.render_latest()
        return Response(payload, media_type=content_type)

    for router in routers:
        app.include_router(router)
    return app


async def get_runtime(request: Request) -> ServiceRuntime:
    """FastAPI dependency: the runtime of the app serving this request. `async` though it
    awaits nothing: FastAPI runs a plain `def` dependency in its thread pool, a thread hop
    per request for an attribute read."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime
