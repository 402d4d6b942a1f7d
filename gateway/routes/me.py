"""/api/v1/me: my account, my data export (Decree 13/2023), my account audit log, and the
businesses and organisations I may act for (send ``X-Acting-For: <id>`` to act for one)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field

from gateway import views
from gateway.auth import Caller, caller, client_address
from gateway.routes.accounts import account_view
from gateway.schemas import Strict, ts
from motcua.v1 import identity_pb2

router = APIRouter(prefix="/api/v1/me", tags=["Tài khoản của tôi"])


class ActingFor(Strict):
    account_id: str = Field(min_length=1, max_length=64)


class AddMember(Strict):
    identity_number: str = Field(min_length=1, max_length=20, description="CCCD của người được liên kết")
    role: str = Field(default="authorised", description="authorised hoặc legal_representative")


def _representation(r: identity_pb2.Representation) -> dict:
    return {"account_id": r.body_id, "kind": views.KINDS.get(r.body_kind, "unknown"), "name": r.body_name,
            "tax_code": r.tax_code, "role": r.role}


@router.get("", summary="Tài khoản của tôi")
async def me(request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.identity.GetAccount(identity_pb2.GetAccountRequest(),
                                                                metadata=who.metadata)
    view = account_view(reply.account)
    if who.principal.acting_for:
        view["acting_for"] = who.principal.acting_for
    return view


@router.get("/export", summary="Tải toàn bộ dữ liệu cá nhân của tôi (JSON)")
async def export(request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.identity.ExportMyData(identity_pb2.ExportMyDataRequest(
        client_address=client_address(request)), metadata=who.metadata)
    return Response(reply.json, media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="du-lieu-ca-nhan.json"',
                             "Cache-Control": "no-store"})


@router.get("/audit-log", summary="Nhật ký tài khoản của tôi")
async def audit_log(request: Request, who: Caller = Depends(caller), before_id: int = Query(0, ge=0),
                    page_size: int = Query(50, ge=1, le=100)):
    reply = await request.app.state.clients.identity.ListMyAuditLog(identity_pb2.ListMyAuditLogRequest(
        before_id=before_id, page_size=page_size), metadata=who.metadata)
    items = [{"id": e.id, "event": e.event, "at": ts(e.at), "actor_id": e.actor_id,
              "client_address": e.client_address, "detail": json.loads(e.detail_json or "{}")}
             for e in reply.entries]
    return {"items": items, "next_before_id": items[-1]["id"] if len(items) == page_size else None}


@router.get("/representations", summary="Doanh nghiệp, tổ chức tôi được đại diện")
async def representations(request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.identity.ListRepresentations(identity_pb2.ListRepresentationsRequest(),
                                                                         metadata=who.metadata)
    return {"items": [_representation(r) for r in reply.representations]}


@router.post("/acting-for", summary="Chọn doanh nghiệp/tổ chức để thao tác thay mặt")
async def choose_acting_for(body: ActingFor, request: Request, who: Caller = Depends(caller)):
    """Confirms the link; the portal then sends ``X-Acting-For: <account_id>`` with each request."""
    reply = await request.app.state.clients.identity.ConfirmRepresentation(
        identity_pb2.ConfirmRepresentationRequest(body_id=body.account_id), metadata=who.metadata)
    return {**_representation(reply.representation), "header": {"X-Acting-For": reply.representation.body_id}}


@router.post("/representations/{body_id}/members", status_code=201,
             summary="Liên kết người được ủy quyền (người đại diện theo pháp luật)")
async def add_member(body_id: str, body: AddMember, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.identity.AddRepresentative(identity_pb2.AddRepresentativeRequest(
        body_id=body_id[:64], identity_number=body.identity_number, role=body.role), metadata=who.metadata)
    r = reply.representation
    return {"account_id": r.body_id, "person_id": r.person_id, "role": r.role}


@router.delete("/representations/{body_id}/members/{person_id}", status_code=204, summary="Gỡ liên kết")
async def remove_member(body_id: str, person_id: str, request: Request, who: Caller = Depends(caller)):
    await request.app.state.clients.identity.RemoveRepresentative(identity_pb2.RemoveRepresentativeRequest(
        body_id=body_id[:64], person_id=person_id[:64]), metadata=who.metadata)
    return Response(status_code=204)
