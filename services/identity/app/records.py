"""Writing what happened to an account: the audit log entry and the identity.account.* event,
both in the use case's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from motcua.v1 import events_pb2
from services.identity.providers.base import ProviderUser
from services.identity.store.models import Account, AuditEntry, outbox
from services.platform.events import record_event

AUDIT_EVENTS = ("registered", "verified", "role_changed", "login_failed", "login_succeeded", "login_blocked",
                "password_changed", "token_reuse_detected", "representative_added", "representative_removed",
                "code_sent", "code_rejected", "data_exported", "official_created", "verification_failed",
                "password_change_failed", "password_reset_failed", "representative_replaced")


def audit(session: AsyncSession, account_id: str, event: str, *, actor_id: str = "", client_address: str = "",
          **detail) -> None:
    if event not in AUDIT_EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    session.add(AuditEntry(account_id=account_id or "", event=event, actor_id=actor_id or "",
                           client_address=(client_address or "")[:64], detail=detail, at=datetime.now(UTC)))


async def publish_change(session: AsyncSession, account: Account, change: str) -> None:
    """identity.account.<change> with the contact fields the notification service keeps."""
    await record_event(session, outbox, event_type=f"identity.account.{change}", producer="identity",
                       subject=account.id, payload=events_pb2.AccountChanged(
                           account_id=account.id, kind=account.kind, verification_level=account.verification_level,
                           change=change, email=account.email or "", phone=account.phone or "",
                           full_name=account.full_name, email_verified=bool(account.email_verified),
                           phone_verified=bool(account.phone_verified), agency_code=account.agency_code or "",
                           roles=list(account.roles or []), locale=account.locale or "vi"))


def provider_user(account: Account) -> ProviderUser:
    return ProviderUser(account_id=account.id, username=account.username, email=account.email or "",
                        full_name=account.full_name, kind=account.kind, roles=tuple(account.roles or ()),
                        agency_code=account.agency_code or "", verification_level=account.verification_level,
                        enabled=bool(account.enabled))
