"""/api/v1/auth/*: sign-in (OAuth2 token endpoint), refresh, logout, password reset, contact and
identity verification; and /auth/*, the embedded issuer's OIDC discovery document and JWKS."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from gateway.responses import JSONResponse
from pydantic import Field

from gateway.auth import Caller, call_with_retry_after, caller, client_address, client_metadata
from gateway.problems import Problem
from gateway.routes.accounts import account_view
from gateway.schemas import Strict
from motcua.v1 import identity_pb2

router = APIRouter(tags=["Đăng nhập"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class Refresh(Strict):
    refresh_token: str = Field(min_length=1, max_length=4096)


class ResetStart(Strict):
    username: str = Field(min_length=1, max_length=254)


class ResetConfirm(Strict):
    username: str = Field(min_length=1, max_length=254)
    code: str = Field(min_length=1, max_length=12)
    new_password: str = Field(min_length=1, max_length=128)


class ChangePassword(Strict):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)


class Code(Strict):
    code: str = Field(min_length=1, max_length=12)


_call = call_with_retry_after


def _tokens(reply, *, scope: str = "") -> JSONResponse:
    body = {"access_token": reply.access_token, "token_type": reply.token_type, "expires_in": reply.expires_in}
    if getattr(reply, "refresh_token", ""):
        body.update(refresh_token=reply.refresh_token, refresh_expires_in=reply.refresh_expires_in)
    if scope:
        body["scope"] = scope
    return JSONResponse(body, headers=NO_STORE)


async def _token_request(request: Request) -> dict:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        data = await request.json()
    except ValueError:
        raise Problem(400, "Nội dung gửi lên không phải JSON hợp lệ.") from None
    if not isinstance(data, dict):
        raise Problem(422, "Cần tên đăng nhập và mật khẩu.", errors={"body": "must be an object"})
    return data


def _text(data: dict, name: str, limit: int) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or not value or len(value) > limit:
        raise Problem(422, f"Thiếu hoặc sai {name}.", errors={name: "required"})
    return value


@router.post("/api/v1/auth/token", summary="Đăng nhập (OAuth2: password, refresh_token, client_credentials)")
@router.post("/auth/token", include_in_schema=False)
async def token(request: Request):
    """JSON ``{username, password}`` or an OAuth2 form (grant_type password, refresh_token or
    client_credentials). Ten failed sign-ins a minute per account or address: 429 with Retry-After."""
    data = await _token_request(request)
    grant = data.get("grant_type", "password")
    identity = request.app.state.clients.identity
    address = client_address(request)
    signed = client_metadata(request)
    if grant == "password":
        unknown = set(data) - {"grant_type", "username", "password", "scope", "client_id"}
        if unknown:
            raise Problem(422, "Có trường không được hỗ trợ.", errors={k: "unknown field" for k in unknown})
        reply = await _call(identity.IssueToken, identity_pb2.IssueTokenRequest(
            username=_text(data, "username", 254), password=_text(data, "password", 128), client_address=address),
            metadata=signed)
        return _tokens(reply)
    if grant == "refresh_token":
        reply = await _call(identity.RefreshToken, identity_pb2.RefreshTokenRequest(
            refresh_token=_text(data, "refresh_token", 4096), client_address=address), metadata=signed)
        return _tokens(reply)
    if grant == "client_credentials":
        reply = await _call(identity.IssueClientToken, identity_pb2.IssueClientTokenRequest(
            client_id=_text(data, "client_id", 100), client_secret=_text(data, "client_secret", 256),
            client_address=address), metadata=signed)
        return _tokens(reply, scope=reply.scope)
    raise Problem(400, "grant_type không được hỗ trợ.", errors={"grant_type": "unsupported"})


@router.post("/api/v1/auth/refresh", summary="Làm mới phiên (mã làm mới dùng một lần)")
async def refresh(body: Refresh, request: Request):
    reply = await request.app.state.clients.identity.RefreshToken(identity_pb2.RefreshTokenRequest(
        refresh_token=body.refresh_token, client_address=client_address(request)), metadata=client_metadata(request))
    return _tokens(reply)


@router.post("/api/v1/auth/logout", status_code=204, summary="Đăng xuất (thu hồi phiên)")
async def logout(body: Refresh, request: Request):
    await request.app.state.clients.identity.Logout(identity_pb2.LogoutRequest(refresh_token=body.refresh_token))
    return JSONResponse(None, status_code=204)


@router.post("/api/v1/auth/password-reset", status_code=202, summary="Yêu cầu mã đặt lại mật khẩu")
async def password_reset(body: ResetStart, request: Request):
    await request.app.state.clients.identity.StartPasswordReset(identity_pb2.StartPasswordResetRequest(
        username=body.username, client_address=client_address(request)), metadata=client_metadata(request))
    return JSONResponse({"detail": "Nếu tài khoản tồn tại, mã xác nhận đã được gửi tới số điện thoại "
                                   "hoặc thư điện tử đã đăng ký."}, status_code=202)


@router.post("/api/v1/auth/password-reset/confirm", status_code=204, summary="Đặt lại mật khẩu bằng mã")
async def password_reset_confirm(body: ResetConfirm, request: Request):
    await _call(request.app.state.clients.identity.ResetPassword, identity_pb2.ResetPasswordRequest(
        username=body.username, code=body.code, new_password=body.new_password,
        client_address=client_address(request)), metadata=client_metadata(request))
    return JSONResponse(None, status_code=204)


@router.post("/api/v1/auth/password", status_code=204, summary="Đổi mật khẩu")
async def change_password(body: ChangePassword, request: Request, who: Caller = Depends(caller)):
    await _call(request.app.state.clients.identity.ChangePassword, identity_pb2.ChangePasswordRequest(
        current_password=body.current_password, new_password=body.new_password,
        client_address=client_address(request)), metadata=who.metadata)
    return JSONResponse(None, status_code=204)


@router.post("/api/v1/auth/verify/{channel}", status_code=202, summary="Gửi mã xác nhận số điện thoại/thư điện tử")
async def verify_start(channel: str, request: Request, who: Caller = Depends(caller)):
    if channel not in ("phone", "email"):
        raise Problem(404, "Chỉ xác nhận được phone hoặc email.", errors={"channel": "phone or email"})
    reply = await _call(request.app.state.clients.identity.StartContactVerification,
                        identity_pb2.StartContactVerificationRequest(channel=channel,
                                                                     client_address=client_address(request)),
                        metadata=who.metadata)
    return JSONResponse({"destination_masked": reply.destination_masked,
                         "expires_in_seconds": reply.expires_in_seconds}, status_code=202)


@router.post("/api/v1/auth/verify/{channel}/confirm", summary="Xác nhận bằng mã (mức 1 khi đủ cả hai)")
async def verify_confirm(channel: str, body: Code, request: Request, who: Caller = Depends(caller)):
    if channel not in ("phone", "email"):
        raise Problem(404, "Chỉ xác nhận được phone hoặc email.", errors={"channel": "phone or email"})
    reply = await request.app.state.clients.identity.ConfirmContact(identity_pb2.ConfirmContactRequest(
        channel=channel, code=body.code), metadata=who.metadata)
    return account_view(reply.account)


@router.post("/api/v1/auth/verify-identity", summary="Xác thực mức 2 với CSDL quốc gia về dân cư")
async def verify_identity(request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.identity.VerifyIdentity(identity_pb2.VerifyIdentityRequest(),
                                                                    metadata=who.metadata)
    return account_view(reply.account)


# --- the embedded issuer, served under its issuer URL (…/auth) ---------------------------------

async def _local_issuer(request: Request):
    verifier = request.app.state.verifier
    jwks = await verifier.jwks()
    if verifier.provider != "local":
        raise Problem(404, "Nhà cung cấp định danh ngoài: xem tài liệu khám phá tại địa chỉ của nó.")
    return verifier.issuer, jwks


@router.get("/auth/.well-known/openid-configuration", include_in_schema=False)
async def discovery(request: Request):
    issuer, _ = await _local_issuer(request)
    return JSONResponse({
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks",
        "token_endpoint": f"{issuer}/token",
        "grant_types_supported": ["password", "refresh_token", "client_credentials"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "scopes_supported": ["openid", "motcua.applicant.resolve"],
        "claims_supported": ["sub", "iss", "aud", "exp", "nbf", "iat", "account_id", "kind", "roles", "agency",
                             "vl", "name", "preferred_username"],
    }, headers={"Cache-Control": "public, max-age=300"})


@router.get("/auth/jwks", include_in_schema=False)
async def jwks(request: Request):
    _, keys = await _local_issuer(request)
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=60"})
