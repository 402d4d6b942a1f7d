"""Read the in-app inbox and mark items read: only the caller's own items (and, for a
representative, the represented body's), newest first."""

from __future__ import annotations

from sqlalchemy import func, select, update

from services.notification.store.models import Notification
from services.platform.errors import NotFound

MAX_PAGE = 100


async def list_inbox(sessions, account_ids: list[str], *, unread_only: bool, offset: int, limit: int):
    where = [Notification.account_id.in_(account_ids), Notification.channel == "inapp"]
    if unread_only:
        where.append(Notification.read.is_(False))
    async with sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Notification).where(*where))
        unread = await session.scalar(select(func.count()).select_from(Notification).where(
            Notification.account_id.in_(account_ids), Notification.channel == "inapp",
            Notification.read.is_(False)))
        rows = await session.scalars(select(Notification).where(*where)
                                     .order_by(Notification.created_at.desc(), Notification.id)
                                     .offset(offset).limit(max(1, min(limit or 20, MAX_PAGE))))
        return list(rows), int(total or 0), int(unread or 0)


async def mark_read(sessions, account_ids: list[str], notification_id: str) -> Notification:
    async with sessions() as session, session.begin():
        changed = await session.execute(
            update(Notification).where(Notification.id == notification_id,
                                       Notification.account_id.in_(account_ids))
            .values(read=True)
        )
        if changed.rowcount != 1:
            raise NotFound("Không tìm thấy thông báo.")
        return await session.get(Notification, notification_id)
