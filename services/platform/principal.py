"""Who is calling: the principal the gateway verified, passed to services in gRPC metadata.

The gateway signs it with a shared secret (HMAC-SHA256); a service trusts only a
principal whose signature checks, so a caller that bypasses the gateway cannot claim
to be somebody else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass, field

from services.platform.errors import Unauthenticated

METADATA_KEY = "x-motcua-principal"
MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class Principal:
    account_id: str
    kind: str  # citizen, business, organisation, official, service
    name: str = ""
    roles: tuple[str, ...] = field(default_factory=tuple)
    agency_code: str = ""
    verification_level: int = 0
    # The business or organisation account this person acts for, chosen in the portal
    # (legal representative or authorised person); empty when acting for themselves.
    acting_for: str = ""

    @property
    def applicant_id(self) -> str:
        """The account a dossier belongs to: the represented body, else the person."""
        return self.acting_for or self.account_id

    @property
    def is_official(self) -> bool:
        return self.kind == "official"

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_principal(principal: Principal, secret: str, *, now: float | None = None) -> str:
    body = asdict(principal)
    body["roles"] = list(principal.roles)
    body["iat"] = int(now if now is not None else time.time())
    payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(sig)}"


def decode_principal(token: str, secret: str, *, now: float | None = None) -> Principal:
    try:
        payload, sig = token.split(".", 1)
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig)):
            raise ValueError("bad signature")
        body = json.loads(_unb64(payload))
    except (ValueError, json.JSONDecodeError) as exc:
        raise Unauthenticated("Thông tin người gọi không hợp lệ.") from exc
    current = now if now is not None else time.time()
    if abs(current - body.pop("iat", 0)) > MAX_AGE_SECONDS:
        raise Unauthenticated("Thông tin người gọi đã hết hạn.")
    body["roles"] = tuple(body.get("roles", ()))
    known = Principal.__dataclass_fields__
    return Principal(**{k: v for k, v in body.items() if k in known})
