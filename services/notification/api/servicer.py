"""NotificationService over gRPC: translate proto <-> use cases; errors map to gRPC codes."""

from __future__ import annotations

import json

from motcua.v1 import common_pb2, notification_pb2, notification_pb2_grpc
from services.notification.app import directory, inbox
from services.notification.app.deliveries import DeliveryWorker
from services.notification.app.one_time_codes import send_one_time_code
from services.notification.domain import audience
from services.notification.domain.context import sample_context
from services.notification.domain.masking import mask_email, mask_phone
from services.notification.domain.templates import TemplateRegistry, UnknownTemplate
from services.notification.store.models import Notification
from services.platform.errors import InvalidInput, PermissionDenied
from services.platform.grpc_server import current_principal

PREVIEW_ROLES = ("city_admin", "operator")
# The only caller allowed to send one-time codes: the identity service, which generates them.
CODE_SENDER = "identity"


def to_proto(n: Notification) -> notification_pb2.Notification:
    msg = notification_pb2.Notification(id=n.id, event_type=n.event_type, subject=n.subject, title=n.title,
                                        body=n.body, read=n.read, channel=n.channel)
    msg.created_at.FromDatetime(n.created_at)
    return msg


def preferences_proto(prefs: audience.Preferences, contact: audience.Contact | None):
    return notification_pb2.NotificationPreferences(
        inbox=prefs.inbox, email=prefs.email, sms=prefs.sms, locale=audience.locale_for(prefs, contact),
        email_masked=mask_email(contact.email) if contact and contact.email else "",
        email_verified=bool(contact and contact.email_verified),
        phone_masked=mask_phone(contact.phone) if contact and contact.phone else "",
        phone_verified=bool(contact and contact.phone_verified),
        always_in_inbox=sorted(audience.LEGALLY_REQUIRED))


def inbox_owners(principal) -> list[str]:
    """Whose inbox the caller reads: their own and, for a representative, the represented
    body's (notices of a dossier filed for a business go to the business; the gateway signs
    ``acting_for`` only after identity has confirmed the link)."""
    return list(dict.fromkeys(a for a in (principal.account_id, principal.acting_for) if a))


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, sessions, reads, *, templates: TemplateRegistry, worker: DeliveryWorker):
        self._sessions = sessions
        self._reads = reads
        self._templates = templates
        self._worker = worker

    async def ListNotifications(self, request, context):
        principal = current_principal()
        token = request.page.page_token
        if token and not token.isdigit():
            raise InvalidInput("Mã trang không hợp lệ.", fields={"page_token": "Không hợp lệ."})
        offset = int(token or 0)
        rows, total, unread = await inbox.list_inbox(self._reads, inbox_owners(principal),
                                                     unread_only=request.unread_only, offset=offset,
                                                     limit=request.page.page_size)
        nxt = offset + len(rows)
        return notification_pb2.ListNotificationsResponse(
            notifications=[to_proto(n) for n in rows], unread=unread,
            page=common_pb2.PageInfo(next_page_token=str(nxt) if nxt < total else "", total=total),
        )

    async def MarkNotificationRead(self, request, context):
        n = await inbox.mark_read(self._sessions, inbox_owners(current_principal()), request.id)
        return notification_pb2.MarkNotificationReadResponse(notification=to_proto(n))

    async def GetNotificationPreferences(self, request, context):
        prefs, contact = await directory.read_preferences(self._reads, current_principal().account_id)
        return notification_pb2.GetNotificationPreferencesResponse(preferences=preferences_proto(prefs, contact))

    async def UpdateNotificationPreferences(self, request, context):
        prefs, contact = await directory.update_preferences(
            self._sessions, current_principal().account_id, inbox=request.inbox, email=request.email,
            sms=request.sms, locale=request.locale)
        return notification_pb2.UpdateNotificationPreferencesResponse(preferences=preferences_proto(prefs, contact))

    async def PreviewTemplate(self, request, context):
        if not current_principal().has_role(*PREVIEW_ROLES):
            raise PermissionDenied("Chỉ quản trị viên thành phố hoặc cán bộ vận hành được xem trước mẫu.")
        sample = sample_context(request.event_type)
        if request.sample_json:
            try:
                extra = json.loads(request.sample_json)
            except json.JSONDecodeError as exc:
                raise InvalidInput("Dữ liệu mẫu không phải JSON.", fields={"sample": str(exc)}) from exc
            if not isinstance(extra, dict):
                raise InvalidInput("Dữ liệu mẫu phải là một đối tượng JSON.", fields={"sample": "Phải là đối tượng."})
            sample.update({k: v for k, v in extra.items() if k not in ("due_at", "new_due_at", "occurred_at")})
        if request.locale and request.locale not in audience.LOCALES:
            raise InvalidInput("Ngôn ngữ không được hỗ trợ.", fields={"locale": "Chỉ nhận vi hoặc en."})
        try:
            rendered = self._templates.render(request.event_type, request.channel or "inbox",
                                              request.locale or "vi", sample)
        except UnknownTemplate as exc:
            raise InvalidInput("Không có mẫu cho loại thông báo hoặc kênh này.",
                               fields={"event_type": f"Không có mẫu: {exc}"}) from exc
        except Exception as exc:  # a sample that the template cannot use (e.g. wrong type)
            raise InvalidInput("Không dựng được mẫu với dữ liệu này.", fields={"sample": str(exc)[:200]}) from exc
        return notification_pb2.PreviewTemplateResponse(template_ref=rendered.ref, title=rendered.title,
                                                        body=rendered.body)

    async def SendOneTimeCode(self, request, context):
        # Only the identity service, as itself (a signed service principal), may send codes:
        # otherwise anyone reaching this port could send SMS and email under our brand name.
        principal = current_principal()  # Unauthenticated without a valid signed principal
        if principal.kind != "service" or principal.account_id != CODE_SENDER:
            raise PermissionDenied("Không được phép gửi mã xác thực.")
        delivery = await send_one_time_code(
            self._sessions, self._templates, self._worker, account_id=request.account_id, channel=request.channel,
            destination=request.destination, code=request.code, purpose=request.purpose,
            idempotency_key=request.idempotency_key, expires_in_seconds=request.expires_in_seconds)
        return notification_pb2.SendOneTimeCodeResponse(delivery_id=delivery.id,
                                                        destination_masked=delivery.destination_masked,
                                                        state=delivery.state)
