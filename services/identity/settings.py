"""The identity service's settings (``MOTCUA_IDENTITY_*``); safe defaults for `make run`."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MachineClientSeed(BaseModel):
    client_id: str
    secret: str
    name: str = ""
    scopes: list[str] = Field(default_factory=list)


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_IDENTITY_", extra="ignore", populate_by_name=True)

    # local (the embedded issuer) or keycloak.
    provider: str = "local"
    # The `iss` of the embedded issuer's tokens: the gateway serves its discovery document there.
    issuer_url: str = Field("http://127.0.0.1:8000/auth",
                            validation_alias=AliasChoices("MOTCUA_ISSUER_URL", "MOTCUA_IDENTITY_ISSUER_URL"))
    access_token_seconds: int = 900
    # A refresh token lives this long unused; a sign-in session at most session_max_seconds.
    refresh_token_seconds: int = 8 * 3600
    session_max_seconds: int = 7 * 24 * 3600
    # A signing key signs this long, then a new one takes over (published key_publish_lead_seconds earlier).
    key_rotation_days: float = 30.0
    key_publish_lead_seconds: int = 600
    # argon2id cost: OWASP's recommended minimum (19 MiB, t=2, p=1), about 70 ms a hash on one core;
    # raise it where the hardware allows (tests/perf/bench_identity.py shows the login rate it gives).
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    # Machine clients (commune systems) created at start when missing, e.g.
    # [{"client_id": "...", "secret": "...", "scopes": ["motcua.applicant.resolve"]}].
    machine_clients: list[MachineClientSeed] = Field(default_factory=list)
    # Level-2 verification against the national identity source: sandbox (embedded) or none.
    national_identity: str = "sandbox"
    # Optional JSON file of people the sandbox knows ({"identity_number", "full_name", "date_of_birth"});
    # without one the sandbox confirms any record whose number matches its date of birth.
    national_identity_sandbox_file: str = ""
    # Who represents a tax code: sandbox (embedded; confirms every claim, or those in the optional
    # JSON file of {"tax_code", "identity_number"}) or none (claims stay unconfirmed).
    business_registry: str = "sandbox"
    business_registry_sandbox_file: str = ""
    # Registrations accepted per client address an hour (stops bulk probing of which numbers have accounts).
    registrations_per_address_hour: int = 20


@lru_cache
def identity_settings() -> IdentitySettings:
    return IdentitySettings()
