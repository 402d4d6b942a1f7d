"""The identity service's own tables: accounts and their links, the audit log, one-time codes,
login throttles, the embedded provider's users, keys, refresh tokens and machine clients, and
the event outbox."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.platform.db import UtcDateTime
from services.platform.events import outbox_table


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A citizen, business, organisation or official. Businesses and organisations never sign in
    themselves: people linked to them act for them (``Representation``)."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # citizen, business, organisation, official
    username: Mapped[str] = mapped_column(String(100), unique=True)
    # One identity number, one account (CCCD for citizens, tax code for businesses and organisations).
    identity_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    address: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verification_level: Mapped[int] = mapped_column(Integer, default=0)
    agency_code: Mapped[str] = mapped_column(String(35), default="")
    roles: Mapped[list] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(10), default="vi")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Representation(Base):
    """A person who may act for a business or organisation: its legal representative
    (người đại diện theo pháp luật) or an authorised person (người được ủy quyền)."""

    __tablename__ = "representations"
    __table_args__ = (UniqueConstraint("body_id", "person_id", name="uq_representation"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    body_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    person_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    role: Mapped[str] = mapped_column(String(30))  # legal_representative, authorised
    # confirmed, or unconfirmed: a registrant's claim the business registry has not confirmed;
    # it gives no right to act for the body and a confirmed claim replaces it.
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(36))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuditEntry(Base):
    """Every account event, written by the use case that causes it, in the same transaction."""

    __tablename__ = "account_audit_log"
    __table_args__ = (Index("ix_audit_account_at", "account_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(36))  # empty for a failed login of an unknown user
    event: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[str] = mapped_column(String(36), default="")
    client_address: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class OneTimeCode(Base):
    __tablename__ = "one_time_codes"
    __table_args__ = (Index("ix_otp_account_purpose", "account_id", "purpose"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36))
    purpose: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(10))  # sms, email
    destination: Mapped[str] = mapped_column(String(254))
    salt: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LoginThrottle(Base):
    """Failed sign-ins per key (``account:<id>``, ``name:<typed name>`` or ``address:<ip>``)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    strikes: Mapped[int] = mapped_column(Integer, default=0)


# --- the embedded provider ("local") ----------------------------------------------------------

class LocalUser(Base):
    """What the embedded provider knows of an account: sign-in names, password hash, claims."""

    __tablename__ = "local_users"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="", index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    full_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    roles: Mapped[list] = mapped_column(JSON, default=list)
    agency_code: Mapped[str] = mapped_column(String(35), default="")
    verification_level: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class SigningKey(Base):
    """RSA keys that sign access tokens. A new key is published (in the JWKS) before it signs
    (``activates_at``); a superseded one stays published until every token it signed expired."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    activates_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RefreshToken(Base):
    """One refresh token of a sign-in session (``family_id``); kept hashed. A token used twice
    means it was stolen: the whole family is revoked."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(String(36))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    family_expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MachineClient(Base):
    """A system that calls identity with its own credentials (a commune's one-stop system)."""

    __tablename__ = "machine_clients"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


outbox = outbox_table(Base.metadata)
