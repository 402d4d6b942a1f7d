"""/api/v1/me/notifications: the in-app inbox."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from gateway import views
from gateway.auth import Caller, caller
from motcua.v1 import common_pb2, notification_pb2

router = APIRouter(prefix="/api/v1/me", tags=["Thông báo"])


@router.get("/notifications", summary="Hộp thư thông báo của tôi")
async def inbox(request: Request, who: Caller = Depends(caller), unread: bool = False,
                page_size: int = Query(20, ge=1, le=100), page_token: str = Query("", max_length=20)):
    reply = await request.app.state.clients.notification.ListNotifications(
        notification_pb2.ListNotificationsRequest(
            unread_only=unread, page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)),
        metadata=who.metadata)
    return {"items": [views.notification(n) for n in reply.notifications], "unread": reply.unread,
            "next_page_token": reply.page.next_page_token, "total": reply.page.total}


@router.post("/notifications/{notification_id}/read", summary="Đánh dấu đã đọc")
async def mark_read(notification_id: str, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.notification.MarkNotificationRead(
        notification_pb2.MarkNotificationReadRequest(id=notification_id), metadata=who.metadata)
    return views.notification(reply.notification)
