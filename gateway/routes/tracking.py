"""/api/v1/tracking: public progress of a dossier for whoever holds the code and the
secret printed on the receipt; no personal data."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from gateway import views
from motcua.v1 import dossier_pb2

router = APIRouter(prefix="/api/v1/tracking", tags=["Tra cứu hồ sơ"])


@router.get("/{code}", summary="Tra cứu tiến độ hồ sơ (công khai, cần mã tra cứu trên giấy hẹn)")
async def track(code: str, request: Request, secret: str = Query(..., min_length=1, max_length=20)):
    reply = await request.app.state.clients.dossier.TrackDossier(
        dossier_pb2.TrackDossierRequest(code=code, secret=secret))
    return views.tracking(reply.view)
