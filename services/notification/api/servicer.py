"""NotificationService over gRPC."""

from __future__ import annotations

from motcua.v1 import common_pb2, notification_pb2, notification_pb2_grpc
from services.notification.app import inbox
from services.notification.store.models import Notification
from services.platform.grpc_server import current_principal


def to_proto(n: Notification) -> notification_pb2.Notification:
    msg = notification_pb2.Notification(id=n.id, event_type=n.event_type, subject=n.subject, title=n.title,
                                        body=n.body, read=n.read, channel=n.channel)
    msg.created_at.FromDatetime(n.created_at)
    return msg


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, sessions, reads):
        self._sessions = sessions
        self._reads = reads

    async def ListNotifications(self, request, context):
        principal = current_principal()
        offset = int(request.page.page_token) if request.page.page_token.isdigit() else 0
        rows, total, unread = await inbox.list_inbox(self._reads, principal.account_id,
                                                     unread_only=request.unread_only, offset=offset,
                                                     limit=request.page.page_size)
        nxt = offset + len(rows)
        return notification_pb2.ListNotificationsResponse(
            notifications=[to_proto(n) for n in rows], unread=unread,
            page=common_pb2.PageInfo(next_page_token=str(nxt) if nxt < total else "", total=total),
        )

    async def MarkNotificationRead(self, request, context):
        n = await inbox.mark_read(self._sessions, current_principal().account_id, request.id)
        return notification_pb2.MarkNotificationReadResponse(notification=to_proto(n))
