"""/api/v1/accounts: citizens register themselves; a citizen registers the business or
organisation they legally represent; admins create officials and set their roles."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from gateway.responses import JSONResponse
from pydantic import Field

from gateway import views
from gateway.auth import Caller, call_with_retry_after as _call, caller, client_address, client_metadata
from gateway.schemas import RegisterCitizen, Strict
from motcua.v1 import identity_pb2

router = APIRouter(prefix="/api/v1", tags=["Tài khoản"])


class RegisterBody(Strict):
    tax_code: str = Field(min_length=1, max_length=20, description="Mã số thuế: 10 chữ số, hoặc 0123456789-001")
    name: str = Field(min_length=1, max_length=300)
    address: str = Field(min_length=1, max_length=400)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=20)


class CreateOfficial(Strict):
    username: str = Field(min_length=1, max_length=100)
    full_name: str = Field(min_length=1, max_length=200)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=20)
    agency_code: str = Field(min_length=1, max_length=35)
    roles: list[str] = Field(min_length=1, max_length=6,
                             description="reception, processing, approval, agency_admin, city_admin, operator")
    password: str = Field(min_length=1, max_length=128)


class SetRoles(Strict):
    roles: list[str] = Field(min_length=1, max_length=6)


def account_view(a: identity_pb2.Account) -> dict:
    """A citizen's user name is their CCCD: it is not repeated (identity_number_masked shows it masked)."""
    view = views.account(a)
    if view["kind"] == "citizen":
        view.pop("username", None)
    view.update(email_verified=a.email_verified, phone_verified=a.phone_verified)
    if a.address:
        view["address"] = a.address
    return view


@router.post("/accounts", status_code=201, summary="Đăng ký tài khoản công dân")
async def register(body: RegisterCitizen, request: Request):
    reply = await _call(request.app.state.clients.identity.RegisterCitizen, identity_pb2.RegisterCitizenRequest(
        **body.model_dump()), metadata=client_metadata(request))
    return JSONResponse(account_view(reply.account), status_code=201)


@router.post("/accounts/businesses", status_code=201,
             summary="Đăng ký tài khoản doanh nghiệp (người đăng ký là người đại diện theo pháp luật)")
async def register_business(body: RegisterBody, request: Request, who: Caller = Depends(caller)):
    reply = await _call(request.app.state.clients.identity.RegisterBusiness, identity_pb2.RegisterBusinessRequest(
        **body.model_dump(), client_address=client_address(request)), metadata=who.metadata)
    return JSONResponse(account_view(reply.account), status_code=201)


@router.post("/accounts/organisations", status_code=201, summary="Đăng ký tài khoản tổ chức")
async def register_organisation(body: RegisterBody, request: Request, who: Caller = Depends(caller)):
    reply = await _call(request.app.state.clients.identity.RegisterOrganisation, identity_pb2.RegisterOrganisationRequest(
        **body.model_dump(), client_address=client_address(request)), metadata=who.metadata)
    return JSONResponse(account_view(reply.account), status_code=201)


@router.post("/accounts/officials", status_code=201, summary="Tạo tài khoản cán bộ (quản trị đơn vị/thành phố)")
async def create_official(body: CreateOfficial, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.identity.CreateOfficial(identity_pb2.CreateOfficialRequest(
        **body.model_dump()), metadata=who.metadata)
    return JSONResponse(account_view(reply.account), status_code=201)


@router.put("/accounts/officials/{account_id}/roles", summary="Đổi vai trò của cán bộ")
async def set_roles(account_id: str, body: SetRoles, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.identity.SetOfficialRoles(identity_pb2.SetOfficialRolesRequest(
        account_id=account_id[:64], roles=body.roles), metadata=who.metadata)
    return account_view(reply.account)
