"""One-time codes (mã OTP) for confirming a phone or email and resetting a password.

Identity generates the code and keeps only a keyed hash, an expiry and an attempts count; the
notification service delivers it. Six digits, five minutes, five attempts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

CODE_DIGITS = 6
LIFETIME = timedelta(minutes=5)
MAX_ATTEMPTS = 5
PURPOSES = ("verify_phone", "verify_email", "reset_password")


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(code: str, *, salt: str) -> str:
    """Keyed by a per-code salt, so the table alone does not reveal codes by brute force of one hash."""
    return hmac.new(salt.encode(), code.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    reason: str = ""  # expired, used, too_many_attempts, wrong


def check_code(*, typed: str, salt: str, stored_hash: str, expires_at: datetime, attempts: int,
               consumed: bool, now: datetime) -> CodeCheck:
    """Decides whether a typed code is accepted; the caller counts the attempt either way."""
    if consumed:
        return CodeCheck(False, "used")
    if now >= expires_at:
        return CodeCheck(False, "expired")
    if attempts >= MAX_ATTEMPTS:
        return CodeCheck(False, "too_many_attempts")
    if not hmac.compare_digest(code_hash(typed, salt=salt), stored_hash):
        return CodeCheck(False, "wrong")
    return CodeCheck(True)
