"""The identity provider port: what the identity service needs from whoever issues tokens.

Two adapters implement it: ``local`` (the embedded issuer, the default for ``make run``) and
``keycloak`` (production). The identity service keeps accounts in its own database and tells
the provider about them; the gateway verifies the provider's tokens the same way for both.

Errors are ``services.platform.errors`` classes: ``AlreadyExists`` when the user exists,
``Unauthenticated`` for a failed grant (one message for unknown user and wrong password, or a
reused, revoked or expired refresh token), ``Unavailable`` when the provider cannot be reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    token_type: str = "Bearer"
    scope: str = ""


@dataclass(frozen=True)
class ProviderUser:
    """What a provider must know about an account to put it into access-token claims."""

    account_id: str
    username: str
    email: str
    full_name: str
    kind: str
    roles: tuple[str, ...]
    agency_code: str
    verification_level: int
    enabled: bool = True


@runtime_checkable
class IdentityProvider(Protocol):
    name: str  # "local" or "keycloak"
    issuer: str  # the `iss` of its access tokens
    audience: str  # "motcua"

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def create_user(self, user: ProviderUser, password: str) -> None:
        """AlreadyExists | Unavailable."""

    async def update_user(self, user: ProviderUser) -> None:
        """Roles, kind, agency, verification level or enabled changed."""

    async def delete_user(self, account_id: str) -> None:
        """Idempotent: used as compensation when a registration does not commit."""

    async def set_password(self, account_id: str, password: str) -> None: ...

    async def password_grant(self, username: str, password: str) -> TokenSet:
        """Unauthenticated (one message for unknown user and wrong password) | Unavailable."""

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Unauthenticated when the token was reused, revoked or expired."""

    async def logout(self, refresh_token: str) -> None:
        """Revokes that session (its refresh-token family)."""

    async def client_credentials_grant(self, client_id: str, client_secret: str) -> TokenSet:
        """Machine clients (commune systems); the token carries `scope` and kind "service"."""

    async def jwks(self) -> dict: ...


# Claims both providers put into access tokens (the gateway builds the Principal from them).
ACCESS_TOKEN_CLAIMS = (
    "iss", "aud", "sub", "exp", "nbf", "iat",
    "account_id", "kind", "roles", "agency", "vl", "name", "preferred_username",
)
AUDIENCE = "motcua"
SCOPE_RESOLVE_APPLICANT = "motcua.applicant.resolve"


class RefreshTokenReused(Exception):
    """Marker mixed into the Unauthenticated a provider raises when it detected a reused refresh
    token (and revoked its family), so identity can write the audit entry. Optional for providers."""

    account_id: str = ""
