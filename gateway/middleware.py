"""Pure ASGI middleware (cheap on the hot path): request id, metrics, body size limit."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

from gateway.problems import problem_response
from services.platform.logging import get_logger, new_request_id, request_id_var

log = get_logger("gateway.http")

REQUESTS = Counter("motcua_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("motcua_http_request_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


class RequestContext:
    """Gives each request an id (or keeps a well-formed one the client sent), returns it in
    ``X-Request-Id``, logs the request and counts it by route template."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if 8 <= len(incoming) <= 64 and incoming.replace("-", "").isalnum() else new_request_id()
        request_id_var.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(scope["method"], template).observe(elapsed)
            log.info("http", method=scope["method"], route=template, status=status, ms=round(elapsed * 1000, 2))


class BodyLimit:
    """Refuses bodies over the limit with 413, whether or not Content-Length announced them."""

    def __init__(self, app, max_bytes: int, paths: dict[str, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        # Larger limits for some exact paths (document uploads), smaller for the rest.
        self.paths = paths or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        limit = self.paths.get(scope["path"], self.max_bytes)

        def too_large():  # built only when needed: most requests are within the limit
            return problem_response(413, f"Dữ liệu gửi lên vượt quá {limit // 1000} KB.")

        if length is not None:
            try:
                if int(length) > limit:
                    return await too_large()(scope, receive, send)
            except ValueError:
                return await problem_response(400, "Content-Length không hợp lệ.")(scope, receive, send)
        seen = 0
        exceeded = False
        replaced = False

        async def counted_receive():
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise _TooLarge()
            return message

        async def guarded_send(message):
            # Whatever the app answers to a body cut short, the client hears 413.
            nonlocal replaced
            if not exceeded:
                return await send(message)
            if not replaced:
                replaced = True
                await too_large()(scope, receive, send)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _TooLarge:
            if not replaced:
                await too_large()(scope, receive, send)


class _TooLarge(Exception):
    pass
