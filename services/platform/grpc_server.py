"""A gRPC server as every service runs it: health, reflection, and one interceptor that
binds the request id and principal, logs each call, maps errors and enforces a deadline."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from contextvars import ContextVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy.exc import DBAPIError

from services.platform.errors import ServiceError, Unauthenticated
from services.platform.logging import get_logger, request_id_var
from services.platform.principal import METADATA_KEY, Principal, decode_principal

log = get_logger("grpc")

FIELDS_METADATA_KEY = "x-motcua-fields"
REQUEST_ID_KEY = "x-request-id"
# A call that arrives without a deadline gets this one, so nothing runs forever.
DEFAULT_DEADLINE_SECONDS = 30.0

_principal_var: ContextVar[Principal | None] = ContextVar("principal", default=None)


def current_principal() -> Principal:
    """The verified caller of the current RPC; UNAUTHENTICATED when there is none."""
    principal = _principal_var.get()
    if principal is None:
        raise Unauthenticated("Cần đăng nhập.")
    return principal


class _ContextInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, secret: str):
        self._secret = secret

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or handler.stream_stream:
            return handler
        metadata = {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}
        method = details.method
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method, metadata),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_unary:
            inner = handler.unary_unary
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(inner, method, metadata),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        inner = handler.stream_unary
        return grpc.stream_unary_rpc_method_handler(
            self._wrap(inner, method, metadata),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _bind(self, metadata: dict[str, str]) -> None:
        request_id_var.set(metadata.get(REQUEST_ID_KEY, ""))
        token = metadata.get(METADATA_KEY)
        _principal_var.set(decode_principal(token, self._secret) if token else None)

    def _wrap_stream(self, behaviour, method: str, metadata: dict[str, str]):
        """Server streaming (downloads): the same binding, logging and error mapping, and no
        default deadline, since a large file may take longer than one unary call."""

        async def wrapped(request, context: grpc.aio.ServicerContext):
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                self._bind(metadata)
                async for message in behaviour(request, context):
                    yield message
            except (grpc.aio.AbortError, asyncio.CancelledError):
                code = context.code() or grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:
                code = _status_for(exc)[0]
                await _abort(context, exc, method)
            finally:
                _log_call(method, code, started)

        return wrapped

    def _wrap(self, behaviour, method: str, metadata: dict[str, str]):
        async def wrapped(request, context: grpc.aio.ServicerContext):
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                self._bind(metadata)
                remaining = context.time_remaining()
                timeout = DEFAULT_DEADLINE_SECONDS if remaining is None else None
                return await asyncio.wait_for(behaviour(request, context), timeout)
            except (grpc.aio.AbortError, asyncio.CancelledError):
                code = context.code() or grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:
                code = _status_for(exc)[0]
                await _abort(context, exc, method)
            finally:
                _log_call(method, code, started)

        return wrapped


def _status_for(exc: Exception) -> tuple[grpc.StatusCode, str]:
    if isinstance(exc, ServiceError):
        return exc.code, exc.message
    if isinstance(exc, asyncio.TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "Hết thời gian xử lý yêu cầu."
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        # A dropped database connection is worth a retry: the pool has discarded it.
        return grpc.StatusCode.UNAVAILABLE, "Lỗi hệ thống, vui lòng thử lại sau."
    return grpc.StatusCode.INTERNAL, "Lỗi hệ thống, vui lòng thử lại sau."


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, method: str) -> None:
    """End the call with the status ``exc`` maps to (``abort`` raises); only unexpected
    errors are logged with their traceback."""
    code, message = _status_for(exc)
    if isinstance(exc, ServiceError):
        if exc.fields:
            context.set_trailing_metadata(((FIELDS_METADATA_KEY, json.dumps(exc.fields)),))
    elif not isinstance(exc, asyncio.TimeoutError):
        log.error("rpc_failed", method=method, exc_info=exc)
    await context.abort(code, message)


def _log_call(method: str, code, started: float) -> None:
    log.info("rpc", method=method, code=getattr(code, "name", str(code)),
             ms=round((time.perf_counter() - started) * 1000, 2))


HealthCheck = Callable[[], Awaitable[bool]]


class ServiceServer:
    """Builds, starts and stops one service's gRPC server."""

    def __init__(self, *, name: str, addr: str, secret: str):
        self.name = name
        self.addr = addr
        self.server = grpc.aio.server(
            interceptors=[_ContextInterceptor(secret)],
            options=[
                ("grpc.max_receive_message_length", 8 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = [health.SERVICE_NAME]
        self._checks: dict[str, HealthCheck] = {}
        self._tasks: list[asyncio.Task] = []

    def add_services(self, full_names: Iterable[str]) -> None:
        self._service_names.extend(full_names)

    def run_in_background(self, coro: Coroutine) -> None:
        """A task that lives as long as the server (outbox relay, consumer, loader)."""
        self._tasks.append(asyncio.create_task(coro))

    def add_health_check(self, component: str, check: HealthCheck) -> None:
        """A component (``database``, ``nats``) reported as health service ``<name>.<component>``."""
        self._checks[f"{self.name}.{component}"] = check

    async def start(self) -> None:
        reflection.enable_server_reflection([*self._service_names, reflection.SERVICE_NAME], self.server)
        port = self.server.add_insecure_port(self.addr)
        if port == 0:
            raise RuntimeError(f"cannot listen on {self.addr}")
        await self.server.start()
        await self._run_checks()
        self.run_in_background(self._health_loop())
        log.info("grpc_listening", addr=self.addr)

    async def _run_checks(self) -> None:
        serving = health_pb2.HealthCheckResponse.SERVING
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        results: dict[str, bool] = {}
        for component, check in self._checks.items():
            try:
                results[component] = await asyncio.wait_for(check(), 2.0)
            except Exception:
                results[component] = False
            await self.health.set(component, serving if results[component] else not_serving)
        # The service answers even when NATS is down (events wait in the outbox); only the
        # database decides whether the service itself is serving.
        db_ok = results.get(f"{self.name}.database", True)
        for name in ("", *self._service_names):
            if name != health.SERVICE_NAME:
                await self.health.set(name, serving if db_ok else not_serving)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            try:
                await self._run_checks()
            except Exception:
                log.exception("health_check_failed")

    async def stop(self, grace: float = 3.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
