"""Every error leaves the gateway as RFC 9457 problem+json, with a Vietnamese message,
the fields at fault and the request id; a gRPC status becomes the HTTP status it means."""

from __future__ import annotations

import json

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from gateway.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.platform.grpc_server import FIELDS_METADATA_KEY
from services.platform.logging import get_logger, request_id_var

log = get_logger("gateway.problems")

PROBLEM_JSON = "application/problem+json"

GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

TITLES = {
    400: "Yêu cầu không hợp lệ",
    401: "Cần đăng nhập",
    403: "Không có quyền",
    404: "Không tìm thấy",
    405: "Phương thức không được hỗ trợ",
    409: "Xung đột trạng thái",
    413: "Dữ liệu gửi lên quá lớn",
    415: "Kiểu dữ liệu không được hỗ trợ",
    422: "Dữ liệu không hợp lệ",
    429: "Quá nhiều yêu cầu",
    500: "Lỗi hệ thống",
    503: "Dịch vụ tạm thời không sẵn sàng",
    504: "Hết thời gian chờ",
}


class Problem(Exception):
    def __init__(self, status: int, detail: str, *, errors: dict | None = None, headers: dict | None = None):
        self.status = status
        self.detail = detail
        self.errors = errors or {}
        self.headers = headers or {}


def problem_response(status: int, detail: str, *, errors: dict | None = None, instance: str = "",
                     headers: dict | None = None) -> JSONResponse:
    body = {
        "type": f"/problems/{status}",
        "title": TITLES.get(status, "Lỗi"),
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id_var.get(),
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _grpc_fields(exc: grpc.aio.AioRpcError) -> dict:
    for key, value in exc.trailing_metadata() or ():
        if key == FIELDS_METADATA_KEY:
            try:
                return json.loads(value)
            except (TypeError, json.JSONDecodeError):
                return {}
    return {}


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(exc.status, exc.detail, errors=exc.errors, instance=request.url.path,
                                headers=exc.headers)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _grpc(request: Request, exc: grpc.aio.AioRpcError):
        status = GRPC_TO_HTTP.get(exc.code(), 502)
        detail = exc.details() or TITLES.get(status, "Lỗi")
        if status == 503 and exc.code() == grpc.StatusCode.UNAVAILABLE and "failed to connect" in detail.lower():
            detail = "Dịch vụ tạm thời không sẵn sàng, vui lòng thử lại sau."
        if status >= 500:
            log.warning("upstream_error", code=exc.code().name, detail=exc.details())
            if status == 502:
                detail = "Lỗi hệ thống, vui lòng thử lại sau."
        headers = {"Retry-After": "5"} if status in (503, 429) else None
        return problem_response(status, detail, errors=_grpc_fields(exc), instance=request.url.path,
                                headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors: dict[str, str] = {}
        malformed = False
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                malformed = True
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",)) or "body"
            errors[loc] = err.get("msg", "invalid")
        if malformed:
            return problem_response(400, "Nội dung gửi lên không phải JSON hợp lệ.", errors=errors,
                                    instance=request.url.path)
        return problem_response(422, "Dữ liệu gửi lên chưa hợp lệ: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                                errors=errors, instance=request.url.path)

    @app.exception_handler(ValidationError)
    async def _model(request: Request, exc: ValidationError):
        errors = {".".join(str(p) for p in e.get("loc", ())) or "body": e.get("msg", "invalid") for e in exc.errors()}
        return problem_response(422, "Dữ liệu gửi lên chưa hợp lệ.", errors=errors, instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else TITLES.get(exc.status_code, "Lỗi")
        return problem_response(exc.status_code, detail, instance=request.url.path,
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled_error", path=request.url.path)
        return problem_response(500, "Lỗi hệ thống, vui lòng thử lại sau.", instance=request.url.path)
