"""/api/v1/accounts, /api/v1/auth, /api/v1/me."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gateway import views
from gateway.auth import Caller, caller
from gateway.problems import Problem
from gateway.schemas import RegisterCitizen, TokenRequest
from motcua.v1 import identity_pb2

router = APIRouter(prefix="/api/v1", tags=["Tài khoản"])


@router.post("/accounts", status_code=201, summary="Đăng ký tài khoản công dân")
async def register(body: RegisterCitizen, request: Request):
    reply = await request.app.state.clients.identity.RegisterCitizen(identity_pb2.RegisterCitizenRequest(
        **body.model_dump()))
    return JSONResponse(views.account(reply.account), status_code=201)


@router.post("/auth/token", summary="Đăng nhập bằng mật khẩu, nhận mã truy cập (JWT RS256)")
async def token(request: Request):
    """Accepts JSON ``{username, password}`` or an OAuth2 password-grant form."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        if form.get("grant_type", "password") != "password":
            raise Problem(400, "Chỉ hỗ trợ grant_type=password.", errors={"grant_type": "unsupported"})
        data = {"username": form.get("username", ""), "password": form.get("password", "")}
    else:
        try:
            data = await request.json()
        except ValueError:
            raise Problem(400, "Nội dung gửi lên không phải JSON hợp lệ.") from None
    body = TokenRequest.model_validate(data) if isinstance(data, dict) else None
    if body is None:
        raise Problem(422, "Cần tên đăng nhập và mật khẩu.", errors={"body": "must be an object"})
    client = request.client.host if request.client else ""
    reply = await request.app.state.clients.identity.IssueToken(identity_pb2.IssueTokenRequest(
        username=body.username, password=body.password, client_address=client))
    return {"access_token": reply.access_token, "token_type": reply.token_type, "expires_in": reply.expires_in}


@router.get("/me", summary="Tài khoản của tôi")
async def me(request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.identity.GetAccount(identity_pb2.GetAccountRequest(),
                                                                metadata=who.metadata)
    return views.account(reply.account)
