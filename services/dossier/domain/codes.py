"""Dossier codes (mã hồ sơ): ``{agency code}-{yymmdd}-{NNNN}``, e.g. 000.00.01.H29-210519-0003.

The date is the Vietnamese calendar day of receipt; the sequence counts per agency per day.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from services.dossier.domain.calendar import VIETNAM

CODE_PATTERN = re.compile(r"^[0-9A-Z.]{1,35}-\d{6}-\d{4,}$")
_TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def day_key(at: datetime) -> str:
    return at.astimezone(VIETNAM).strftime("%y%m%d")


def dossier_code(agency_code: str, day: str, sequence: int) -> str:
    return f"{agency_code}-{day}-{sequence:04d}"


def looks_like_code(text: str) -> bool:
    return bool(CODE_PATTERN.match(text))


def new_tracking_secret() -> str:
    """Printed on the receipt; with the code it opens public tracking (50 bits)."""
    return "".join(secrets.choice(_TRACKING_ALPHABET) for _ in range(10))
