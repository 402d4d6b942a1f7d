"""Identity providers behind one port; ``make_provider`` picks one from settings.

The keycloak adapter is imported only when chosen, so the embedded default never needs it.
"""

from __future__ import annotations

from typing import Any

from services.identity.providers.base import IdentityProvider, ProviderUser, TokenSet

__all__ = ["IdentityProvider", "ProviderUser", "TokenSet", "make_provider"]


def make_provider(name: str, **kwargs: Any) -> IdentityProvider:
    """Build the provider called ``name`` ("local" or "keycloak").

    ``kwargs`` go to the local adapter: a ``sessionmaker`` (the identity DB), ``issuer`` and
    optionally ``settings``. The keycloak adapter reads its own settings class (MOTCUA_KEYCLOAK_*).
    """
    name = (name or "local").strip().lower()
    if name == "local":
        from services.identity.providers.local import LocalProvider

        return LocalProvider(**kwargs)
    if name == "keycloak":
        from services.identity.providers import keycloak  # lazy: only production needs it

        cls = keycloak.KeycloakProvider
        # The adapter reads its own settings (MOTCUA_KEYCLOAK_*); it needs none of ours.
        return cls.from_settings() if hasattr(cls, "from_settings") else cls()
    raise ValueError(f"unknown identity provider {name!r} (expected 'local' or 'keycloak')")
