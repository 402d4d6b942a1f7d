"""Gateway settings; safe defaults for `make run`."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # Largest JSON body accepted (document uploads have their own limit).
    max_body_bytes: int = 1_000_000
    # How often an unknown key id may trigger a JWKS refresh.
    jwks_refresh_seconds: float = 10.0
    workers: int = 1
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses or
    # CIDR ranges, or "*"): the ingress in production. Anyone else's headers are ignored, so the
    # client address that throttles sign-ins is the real peer, not a value the caller chose.
    forwarded_allow_ips: str = "127.0.0.1"


@lru_cache
def gateway_settings() -> GatewaySettings:
    return GatewaySettings()
