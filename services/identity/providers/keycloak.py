"""The Keycloak identity provider: the city's Keycloak realm issues the tokens.

Accounts stay in the identity service's database; this adapter mirrors each one into the realm
(``deploy/keycloak/motcua-realm.json``) as a Keycloak user whose attributes ``account_id``,
``kind``, ``agency``, ``vl`` and ``full_name`` the realm's mappers turn into access-token claims,
with the official roles as realm roles. Users are managed through the confidential client
``motcua-identity`` (a service account with realm-management's manage-users, view-users and
query-users); people sign in through the confidential client ``motcua-gateway`` (password and
refresh grants). Everything goes through python-keycloak's async (``a_``) methods.

Keycloak's answers become the platform's errors: no connection or a 5xx is ``Unavailable``
(try again later), 409 is ``AlreadyExists``, a refused grant is ``Unauthenticated`` with one
message whether the user is unknown or the password wrong, a reused, revoked or expired refresh
token is ``Unauthenticated`` too (the realm rotates refresh tokens and allows no reuse).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from keycloak import KeycloakAdmin, KeycloakOpenID, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakConnectionError, KeycloakError
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.identity.providers.base import AUDIENCE, ProviderUser, TokenSet
from services.platform.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    ServiceError,
    Unauthenticated,
    Unavailable,
)
from services.platform.logging import get_logger

log = get_logger("identity.keycloak")

WRONG_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."
SESSION_ENDED = "Phiên đăng nhập đã kết thúc, vui lòng đăng nhập lại."
WRONG_CLIENT = "Thông tin xác thực của hệ thống không đúng."
UNAVAILABLE = "Hệ thống đăng nhập tạm thời không phản hồi, vui lòng thử lại sau ít phút."
USERNAME_TAKEN = "Tên đăng nhập đã được dùng."
WEAK_PASSWORD = "Mật khẩu cần 10-128 ký tự, gồm cả chữ và số hoặc ký hiệu, không dùng số định danh hay tên đăng nhập."
NO_ACCOUNT = "Không tìm thấy tài khoản."
# The realm roles this adapter manages (Keycloak's default roles are left alone).
OFFICIAL_ROLES = ("reception", "processing", "approval", "agency_admin", "city_admin", "operator")


class KeycloakSettings(BaseSettings):
    """``MOTCUA_KEYCLOAK_*``. The secrets are the same values the realm file reads at import."""

    model_config = SettingsConfigDict(env_prefix="MOTCUA_KEYCLOAK_", extra="ignore")

    # Where the identity service reaches Keycloak (inside the cluster: http://keycloak:8080).
    url: str = "http://127.0.0.1:8080"
    realm: str = "motcua"
    # The `iss` of the realm's tokens; empty = {url}/realms/{realm}. Set it when Keycloak's public
    # hostname (KC_HOSTNAME) differs from `url`.
    issuer: str = ""
    gateway_client_id: str = "motcua-gateway"
    gateway_client_secret: SecretStr = SecretStr("")
    admin_client_id: str = "motcua-identity"
    admin_client_secret: SecretStr = SecretStr("")
    timeout_seconds: int = 10
    # TLS towards Keycloak: verify against this CA bundle (empty = the system's); present this
    # client certificate and key (mTLS) when both are set.
    ca_file: str = ""
    client_cert_file: str = ""
    client_key_file: str = ""

    @property
    def issuer_url(self) -> str:
        return self.issuer or f"{self.url.rstrip('/')}/realms/{self.realm}"


def _body(exc: KeycloakError) -> dict:
    try:
        body = json.loads(exc.response_body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _unavailable(exc: KeycloakError, what: str) -> Unavailable:
    log.warning("keycloak_unavailable", operation=what, status=exc.response_code, error=str(exc)[:300])
    return Unavailable(UNAVAILABLE)


def _is_down(exc: KeycloakError) -> bool:
    return isinstance(exc, KeycloakConnectionError) or exc.response_code is None or exc.response_code >= 500


def _admin_error(exc: KeycloakError, what: str) -> ServiceError:
    """An admin call failed: what the identity service should tell its caller."""
    if _is_down(exc):
        return _unavailable(exc, what)
    body = _body(exc)
    if exc.response_code == 409:
        return AlreadyExists(USERNAME_TAKEN, fields={"username": "already registered"})
    if exc.response_code == 400 and "password" in str(body.get("error", "")).lower():
        return InvalidInput(WEAK_PASSWORD, fields={"password": WEAK_PASSWORD})
    if exc.response_code == 404:
        return NotFound(NO_ACCOUNT)
    # 401/403 or a refused representation: the realm and this service disagree (secrets, roles).
    log.error("keycloak_admin_refused", operation=what, status=exc.response_code, body=body)
    return Unavailable(UNAVAILABLE)


def _token_set(reply: dict) -> TokenSet:
    return TokenSet(
        access_token=reply["access_token"],
        refresh_token=reply.get("refresh_token", ""),
        expires_in=int(reply.get("expires_in", 0)),
        refresh_expires_in=int(reply.get("refresh_expires_in", 0)),
        token_type=reply.get("token_type", "Bearer"),
        scope=reply.get("scope", ""),
    )


def split_name(full_name: str) -> tuple[str, str]:
    """Vietnamese order is family name first: "Nguyễn Văn An" -> ("Văn An", "Nguyễn") as
    (firstName, lastName) for Keycloak's console; tokens carry the full name as written."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name.strip(), ""
    return " ".join(parts[1:]), parts[0]


class KeycloakProvider:
    """The port over one realm. ``start`` opens the HTTP clients; nothing is fetched before the
    first call, so the identity service starts even while Keycloak is still starting."""

    name = "keycloak"
    audience = AUDIENCE

    def __init__(self, keycloak_settings: KeycloakSettings | None = None, **_local_only: Any):
        # make_provider also passes what only the local provider uses (issuer, the identity
        # service's settings): Keycloak's issuer is the realm's.
        self.settings = keycloak_settings or KeycloakSettings()
        self.issuer = self.settings.issuer_url
        self._user_ids: OrderedDict[str, str] = OrderedDict()  # account_id -> Keycloak user id
        self._role_reps: dict[str, dict] = {}
        self._gateway: KeycloakOpenID | None = None
        self._admin: KeycloakAdmin | None = None
        self._admin_connection: KeycloakOpenIDConnection | None = None

    @classmethod
    def from_settings(cls) -> KeycloakProvider:
        """Configured from the environment (MOTCUA_KEYCLOAK_*): what make_provider uses."""
        return cls(KeycloakSettings())

    # --- lifecycle ---------------------------------------------------------------------------

    def _tls(self) -> dict[str, Any]:
        s = self.settings
        cert = (s.client_cert_file, s.client_key_file) if s.client_cert_file and s.client_key_file else None
        return {"verify": s.ca_file or True, "cert": cert, "timeout": s.timeout_seconds}

    def _openid(self, client_id: str, secret: str) -> KeycloakOpenID:
        return KeycloakOpenID(server_url=self.settings.url, realm_name=self.settings.realm, client_id=client_id,
                              client_secret_key=secret, **self._tls())

    async def start(self) -> None:
        s = self.settings
        self._gateway = self._openid(s.gateway_client_id, s.gateway_client_secret.get_secret_value())
        self._admin_connection = KeycloakOpenIDConnection(
            server_url=s.url, realm_name=s.realm, client_id=s.admin_client_id,
            client_secret_key=s.admin_client_secret.get_secret_value(), grant_type="client_credentials",
            **self._tls())
        self._admin = KeycloakAdmin(connection=self._admin_connection)

    async def close(self) -> None:
        if self._gateway is not None:
            await self._gateway.connection.aclose()
        if self._admin_connection is not None:
            await self._admin_connection.aclose()
            token_client = getattr(self._admin_connection, "_keycloak_openid", None)  # made for its token
            if token_client is not None:
                await token_client.connection.aclose()
        self._gateway = self._admin = self._admin_connection = None

    def _started_admin(self) -> KeycloakAdmin:
        if self._admin is None:
            raise RuntimeError("KeycloakProvider.start() was not called")
        return self._admin

    def _started_gateway(self) -> KeycloakOpenID:
        if self._gateway is None:
            raise RuntimeError("KeycloakProvider.start() was not called")
        return self._gateway

    async def _admin_call(self, what: str, call):
        """One admin request as the service account (python-keycloak renews its token when it
        expires or is refused, and retries once)."""
        admin = self._started_admin()
        try:
            if self._admin_connection.token is None:
                await self._admin_connection.a_get_token()
            return await call(admin)
        except KeycloakError as exc:
            raise _admin_error(exc, what) from exc

    # --- users ---------------------------------------------------------------------------------

    @staticmethod
    def _representation(user: ProviderUser) -> dict:
        first, last = split_name(user.full_name)
        attributes = {"account_id": [user.account_id], "kind": [user.kind], "vl": [str(user.verification_level)],
                      "full_name": [user.full_name]}
        # An empty value removes the attribute (a citizen has no agency).
        attributes["agency"] = [user.agency_code] if user.agency_code else []
        return {"username": user.username.lower(), "email": user.email.lower() or None, "firstName": first,
                "lastName": last, "enabled": user.enabled, "emailVerified": False, "attributes": attributes}

    def _remember(self, account_id: str, user_id: str) -> None:
        self._user_ids[account_id] = user_id
        self._user_ids.move_to_end(account_id)
        while len(self._user_ids) > 10_000:
            self._user_ids.popitem(last=False)

    async def _user_id(self, account_id: str) -> str | None:
        """The Keycloak user holding ``account_id`` (remembered after the first look-up)."""
        if account_id in self._user_ids:
            return self._user_ids[account_id]
        if not account_id or any(c.isspace() or c in ':"' for c in account_id):
            return None
        found = await self._admin_call("find_user", lambda a: a.a_get_users(
            {"q": f"account_id:{account_id}", "exact": True, "briefRepresentation": False, "max": 2}))
        matches = [u for u in found if account_id in (u.get("attributes") or {}).get("account_id", [])]
        if not matches:
            return None
        self._remember(account_id, matches[0]["id"])
        return matches[0]["id"]

    async def _with_user(self, account_id: str, what: str, call):
        """Run ``call(admin, user_id)``; if the remembered id is stale (404), look it up again once."""
        for attempt in (0, 1):
            user_id = await self._user_id(account_id)
            if user_id is None:
                raise NotFound(NO_ACCOUNT)
            try:
                return await self._admin_call(what, lambda a: call(a, user_id))
            except NotFound:
                self._user_ids.pop(account_id, None)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _realm_roles(self, admin: KeycloakAdmin, user_id: str, names: set[str]) -> list[dict]:
        """Role representations for ``names`` (ids needed by the mapping API). They come from the
        user's assignable roles, which manage-users may read without view-realm."""
        missing = names - self._role_reps.keys()
        if missing:
            for rep in await admin.a_get_available_realm_roles_of_user(user_id):
                self._role_reps[rep["name"]] = {"id": rep["id"], "name": rep["name"]}
            for rep in await admin.a_get_realm_roles_of_user(user_id):
                self._role_reps[rep["name"]] = {"id": rep["id"], "name": rep["name"]}
        unknown = names - self._role_reps.keys()
        if unknown:
            raise InvalidInput("Vai trò không tồn tại trong Keycloak: " + ", ".join(sorted(unknown)) + ".",
                               fields={"roles": "unknown role"})
        return [self._role_reps[n] for n in sorted(names)]

    async def _set_roles(self, admin: KeycloakAdmin, user_id: str, roles: tuple[str, ...]) -> None:
        """Make the user's official roles exactly ``roles`` (Keycloak's own default roles untouched)."""
        wanted = set(roles)
        if wanted - set(OFFICIAL_ROLES):
            raise InvalidInput("Vai trò phải là một hoặc nhiều trong: " + ", ".join(OFFICIAL_ROLES) + ".",
                               fields={"roles": "unknown role"})
        ours = {r["name"] for r in await admin.a_get_realm_roles_of_user(user_id)} & set(OFFICIAL_ROLES)
        add, remove = wanted - ours, ours - wanted
        if add:
            await admin.a_assign_realm_roles(user_id, await self._realm_roles(admin, user_id, add))
        if remove:
            await admin.a_delete_realm_roles_of_user(user_id, await self._realm_roles(admin, user_id, remove))

    @staticmethod
    async def _email_taken_retry(call, payload: dict):
        """Keycloak keeps emails unique so that one can sign in with the email; when another account
        already has this email, this one is kept without it and signs in with its user name."""
        try:
            return await call(payload)
        except KeycloakError as exc:
            if exc.response_code != 409 or "email" not in str(_body(exc)).lower() or not payload.get("email"):
                raise
        return await call({**payload, "email": None})

    async def create_user(self, user: ProviderUser, password: str) -> None:
        payload = self._representation(user)
        payload["credentials"] = [{"type": "password", "value": password, "temporary": False}]
        user_id = await self._admin_call(
            "create_user", lambda a: self._email_taken_retry(a.a_create_user, payload))
        self._remember(user.account_id, user_id)
        if user.roles:
            try:
                await self._admin_call("assign_roles", lambda a: self._set_roles(a, user_id, user.roles))
            except ServiceError:
                # No half-made user: without its roles the account must not exist in the realm.
                await self.delete_user(user.account_id)
                raise

    async def update_user(self, user: ProviderUser) -> None:
        payload = self._representation(user)

        async def change(admin: KeycloakAdmin, user_id: str) -> None:
            await self._email_taken_retry(lambda p: admin.a_update_user(user_id, p), payload)
            await self._set_roles(admin, user_id, user.roles)
            if not user.enabled:
                await admin.a_user_logout(user_id)  # a disabled account keeps no session

        await self._with_user(user.account_id, "update_user", change)

    async def delete_user(self, account_id: str) -> None:
        try:
            await self._with_user(account_id, "delete_user", lambda a, uid: a.a_delete_user(uid))
        except NotFound:
            pass  # already gone: deleting is idempotent
        self._user_ids.pop(account_id, None)

    async def set_password(self, account_id: str, password: str) -> None:
        """Also ends every session of the account: whoever knew the old password is signed out."""

        async def change(admin: KeycloakAdmin, user_id: str) -> None:
            await admin.a_set_user_password(user_id, password, temporary=False)
            await admin.a_user_logout(user_id)

        await self._with_user(account_id, "set_password", change)

    # --- grants --------------------------------------------------------------------------------

    async def password_grant(self, username: str, password: str) -> TokenSet:
        if not username or not password or len(username) > 254 or len(password) > 1024:
            raise Unauthenticated(WRONG_CREDENTIALS)
        try:
            reply = await self._started_gateway().a_token(username.strip(), password, scope="openid")
        except KeycloakError as exc:
            raise self._grant_error(exc, "password_grant", WRONG_CREDENTIALS) from exc
        return _token_set(reply)

    async def refresh(self, refresh_token: str) -> TokenSet:
        if not refresh_token:
            raise Unauthenticated(SESSION_ENDED)
        try:
            reply = await self._started_gateway().a_refresh_token(refresh_token)
        except KeycloakError as exc:
            raise self._grant_error(exc, "refresh", SESSION_ENDED) from exc
        return _token_set(reply)

    async def logout(self, refresh_token: str) -> None:
        if not refresh_token:
            return
        try:
            await self._started_gateway().a_logout(refresh_token)
        except KeycloakError as exc:
            if _is_down(exc):
                raise _unavailable(exc, "logout") from exc
            # An unknown, expired or already revoked token: the session is over either way.
            log.info("keycloak_logout_refused", status=exc.response_code, body=_body(exc))

    async def client_credentials_grant(self, client_id: str, client_secret: str) -> TokenSet:
        if not client_id or not client_secret or len(client_id) > 100:
            raise Unauthenticated(WRONG_CLIENT)
        # A client of its own per grant (machine clients sign in rarely): a wrong secret sent by
        # someone else can never disturb a grant in flight.
        client = self._openid(client_id, client_secret)
        try:
            reply = await client.a_token(grant_type="client_credentials", scope="openid")
        except KeycloakError as exc:
            raise self._grant_error(exc, "client_credentials", WRONG_CLIENT, client_is_caller=True) from exc
        finally:
            await client.connection.aclose()
        return _token_set(reply)

    @staticmethod
    def _grant_error(exc: KeycloakError, what: str, message: str, *, client_is_caller: bool = False) -> ServiceError:
        if _is_down(exc):
            return _unavailable(exc, what)
        body = _body(exc)
        error = body.get("error", "")
        if error == "invalid_grant" or (client_is_caller and error in ("invalid_client", "unauthorized_client")):
            log.info("keycloak_grant_refused", operation=what, reason=body.get("error_description", ""))
            return Unauthenticated(message)
        # The gateway client itself was refused (wrong secret, grant disabled): a configuration fault.
        log.error("keycloak_grant_misconfigured", operation=what, status=exc.response_code, body=body)
        return Unavailable(UNAVAILABLE)

    async def jwks(self) -> dict:
        """The realm's signing keys. Keycloak also publishes an encryption key (``use`` = enc,
        RSA-OAEP) that verifiers must not load as a signature key: it is left out."""
        try:
            certs = await self._started_gateway().a_certs()
        except KeycloakError as exc:
            raise _unavailable(exc, "jwks") from exc
        return {"keys": [k for k in certs.get("keys", []) if k.get("use", "sig") == "sig"]}
