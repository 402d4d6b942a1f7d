"""/api/v1/me/notifications (the in-app inbox), /api/v1/me/notification-preferences, and the
template preview for administrators."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway import views
from gateway.auth import Caller, caller
from motcua.v1 import common_pb2, notification_pb2

router = APIRouter(prefix="/api/v1", tags=["Thông báo"])


@router.get("/me/notifications", summary="Hộp thư thông báo của tôi")
async def inbox(request: Request, who: Caller = Depends(caller), unread: bool = False,
                page_size: int = Query(20, ge=1, le=100), page_token: str = Query("", max_length=20)):
    reply = await request.app.state.clients.notification.ListNotifications(
        notification_pb2.ListNotificationsRequest(
            unread_only=unread, page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)),
        metadata=who.metadata)
    return {"items": [views.notification(n) for n in reply.notifications], "unread": reply.unread,
            "next_page_token": reply.page.next_page_token, "total": reply.page.total}


@router.post("/me/notifications/{notification_id}/read", summary="Đánh dấu đã đọc")
async def mark_read(notification_id: str, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.notification.MarkNotificationRead(
        notification_pb2.MarkNotificationReadRequest(id=notification_id), metadata=who.metadata)
    return views.notification(reply.notification)


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inbox: bool = Field(True, description="Thông báo thường trong hộp thư; thông báo bắt buộc luôn vào hộp thư")
    email: bool = Field(description="Nhận thông báo qua thư điện tử")
    sms: bool = Field(description="Nhận thông báo qua tin nhắn SMS")
    locale: Literal["vi", "en", ""] = Field("", description="Ngôn ngữ thông báo (vi, en); bỏ trống giữ nguyên")


def _preferences(p: notification_pb2.NotificationPreferences) -> dict:
    return {"inbox": p.inbox, "email": p.email, "sms": p.sms, "locale": p.locale,
            "email_masked": p.email_masked, "email_verified": p.email_verified,
            "phone_masked": p.phone_masked, "phone_verified": p.phone_verified,
            # The notification service says which notices ignore these choices (one list, its own).
            "always_in_inbox": list(p.always_in_inbox)}


@router.get("/me/notification-preferences", summary="Kênh nhận thông báo của tôi")
async def get_preferences(request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.notification.GetNotificationPreferences(
        notification_pb2.GetNotificationPreferencesRequest(), metadata=who.metadata)
    return _preferences(reply.preferences)


@router.put("/me/notification-preferences", summary="Chọn kênh nhận thông báo")
async def put_preferences(body: PreferencesIn, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.notification.UpdateNotificationPreferences(
        notification_pb2.UpdateNotificationPreferencesRequest(inbox=body.inbox, email=body.email, sms=body.sms,
                                                              locale=body.locale), metadata=who.metadata)
    return _preferences(reply.preferences)


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str = Field(min_length=3, max_length=60, pattern=r"^[a-z_.]+$",
                            description="Loại thông báo, ví dụ dossier.extended")
    channel: Literal["inbox", "email", "sms"] = "inbox"
    locale: Literal["vi", "en"] = "vi"
    sample: dict = Field(default_factory=dict, description="Giá trị mẫu thay cho dữ liệu mẫu sẵn có")


@router.post("/admin/notification-templates/preview", summary="Xem trước mẫu thông báo (quản trị)")
async def preview_template(body: PreviewIn, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.notification.PreviewTemplate(
        notification_pb2.PreviewTemplateRequest(event_type=body.event_type, channel=body.channel, locale=body.locale,
                                                sample_json=json.dumps(body.sample, ensure_ascii=False)),
        metadata=who.metadata)
    return {"template_ref": reply.template_ref, "title": reply.title, "body": reply.body}
