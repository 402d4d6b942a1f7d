"""The client's network address as the gateway saw it, passed to services signed.

Services throttle per address (failed sign-ins, registrations). An address in a request field
could be written by anyone who reaches the service; this one is signed by the gateway with the
shared secret (HMAC-SHA256, like the principal) and is believed only when the signature checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

CLIENT_ADDRESS_KEY = "x-motcua-client-address"
MAX_AGE_SECONDS = 300


def _sig(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), f"client-address.{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_client_address(address: str, secret: str, *, now: float | None = None) -> str:
    payload = f"{address[:64]}|{int(now if now is not None else time.time())}"
    return f"{payload}|{_sig(secret, payload)}"


def verified_client_address(value: str, secret: str, *, now: float | None = None) -> str:
    """The signed address, or '' when the value is missing, forged or stale."""
    try:
        address, issued, sig = (value or "").rsplit("|", 2)
        fresh = abs((now if now is not None else time.time()) - int(issued)) <= MAX_AGE_SECONDS
    except ValueError:
        return ""
    if not fresh or not hmac.compare_digest(sig, _sig(secret, f"{address}|{issued}")):
        return ""
    return address
