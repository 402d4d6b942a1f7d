"""One contract for both identity providers: the embedded issuer (``local``, on SQLite) and a
real Keycloak with the realm of deploy/keycloak (``keycloak``). The same tests run on each.

Tokens are verified the way the gateway verifies them (gateway.auth.TokenVerifier over the
provider's JWKS, issuer and audience) and must carry the claims of the contract."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

import jwt
import pytest
import pytest_asyncio
from pydantic import SecretStr

from gateway.auth import TokenVerifier, principal_from_claims
from services.identity.providers import make_provider
from services.identity.providers.base import ACCESS_TOKEN_CLAIMS, SCOPE_RESOLVE_APPLICANT, ProviderUser
from services.identity.providers.keycloak import KeycloakProvider, KeycloakSettings, split_name
from services.identity.settings import IdentitySettings, MachineClientSeed
from services.platform.db import Database, upgrade_to_head
from services.platform.embedded import free_port
from services.platform.errors import AlreadyExists, Unauthenticated, Unavailable
from tests.conftest import MIGRATIONS
from tests.servers.keycloak_fixtures import COMMUNE_CLIENT_ID, COMMUNE_CLIENT_SECRET

PASSWORD = "HoaSen@2026x"
WRONG_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."
FAST = dict(argon2_time_cost=1, argon2_memory_kib=8192, argon2_parallelism=1)
COMMUNE_NAME = "Hệ thống một cửa Phường Sài Gòn"


@pytest.fixture(params=["local", "keycloak"])
def provider_factory(request, tmp_path) -> Callable:
    """Builds the provider under test (migrations run here, outside the test's event loop)."""
    if request.param == "local":
        url = f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
        upgrade_to_head(MIGRATIONS["identity"], url)
        settings = IdentitySettings(
            issuer_url="http://issuer.test/auth", **FAST,
            machine_clients=[MachineClientSeed(client_id=COMMUNE_CLIENT_ID, secret=COMMUNE_CLIENT_SECRET,
                                               name=COMMUNE_NAME, scopes=[SCOPE_RESOLVE_APPLICANT])])

        def local():
            db = Database.connect(url)
            return make_provider("local", sessionmaker=db.sessions, issuer=settings.issuer_url,
                                 settings=settings), db.dispose

        return local
    keycloak_settings = request.getfixturevalue("keycloak_settings")

    def keycloak():
        async def nothing() -> None:
            return None

        return KeycloakProvider(keycloak_settings), nothing

    return keycloak


@pytest_asyncio.fixture
async def provider(provider_factory):
    built, dispose = provider_factory()
    await built.start()
    yield built
    await built.close()
    await dispose()


def a_user(**changes) -> ProviderUser:
    tag = uuid.uuid4().hex[:12]
    user = ProviderUser(account_id=str(uuid.uuid4()), username=f"u{tag}", email=f"u{tag}@example.vn",
                        full_name="Nguyễn Thị Mai", kind="citizen", roles=(), agency_code="",
                        verification_level=2)
    return replace(user, **changes)


def an_official(**changes) -> ProviderUser:
    return a_user(kind="official", roles=("reception", "processing"), agency_code="068.00.99.H29",
                  full_name="Trần Văn Bình", verification_level=1, **changes)


async def verify(provider, access_token: str) -> dict:
    """As the gateway does: JWKS, issuer and audience from the provider; iss, aud, exp, nbf checked."""

    async def source():
        return await provider.jwks(), provider.issuer, provider.audience

    verifier = TokenVerifier(source)
    await verifier.refresh()
    claims = await verifier.verify(access_token)
    keys = (await provider.jwks())["keys"]
    assert all(k.get("use", "sig") == "sig" for k in keys)  # nothing a verifier cannot load
    key = jwt.PyJWK(next(k for k in keys
                         if k["kid"] == jwt.get_unverified_header(access_token)["kid"]))
    # Keycloak never writes `nbf` (see deploy/keycloak/README.md); the embedded issuer always does.
    required = ["exp", "iat", "sub", "iss", "aud"] + (["nbf"] if provider.name == "local" else [])
    jwt.decode(access_token, key.key, algorithms=["RS256"], audience="motcua", issuer=provider.issuer,
               options={"require": required})
    return claims


def roles_of(claims: dict) -> list[str]:
    return sorted(claims.get("roles", []))


async def test_a_new_user_signs_in_and_the_token_carries_the_contract_claims(provider):
    user = a_user()
    await provider.create_user(user, PASSWORD)
    tokens = await provider.password_grant(user.username, PASSWORD)
    assert tokens.token_type == "Bearer" and 895 <= tokens.expires_in <= 900
    assert tokens.refresh_token and tokens.refresh_expires_in > 0
    claims = await verify(provider, tokens.access_token)
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert "motcua" in aud and claims["iss"] == provider.issuer
    assert claims.get("nbf", claims["iat"]) <= claims["iat"] <= time.time() + 5
    assert claims["exp"] == claims["iat"] + 900
    assert (claims["account_id"], claims["kind"], claims["vl"], claims["name"], claims["preferred_username"]) == (
        user.account_id, "citizen", 2, "Nguyễn Thị Mai", user.username)
    assert roles_of(claims) == [] and claims.get("agency", "") == ""
    missing = set(ACCESS_TOKEN_CLAIMS) - set(claims) - {"roles", "agency"}  # empty ones may be left out
    assert missing == (set() if provider.name == "local" else {"nbf"})


async def test_an_official_token_carries_roles_and_agency(provider):
    official = an_official()
    await provider.create_user(official, PASSWORD)
    claims = await verify(provider, (await provider.password_grant(official.username, PASSWORD)).access_token)
    assert roles_of(claims) == ["processing", "reception"]
    assert (claims["kind"], claims["agency"], claims["vl"]) == ("official", "068.00.99.H29", 1)
    principal = principal_from_claims(claims)
    assert principal.roles and set(principal.roles) == {"reception", "processing"}
    assert principal.agency_code == "068.00.99.H29"


async def test_the_email_also_signs_in(provider):
    user = a_user()
    await provider.create_user(user, PASSWORD)
    claims = await verify(provider, (await provider.password_grant(user.email, PASSWORD)).access_token)
    assert claims["account_id"] == user.account_id


async def test_two_accounts_may_share_an_email(provider):
    first = a_user()
    second = a_user(email=first.email.upper())
    await provider.create_user(first, PASSWORD)
    await provider.create_user(second, PASSWORD)
    for user in (first, second):
        claims = await verify(provider, (await provider.password_grant(user.username, PASSWORD)).access_token)
        assert claims["account_id"] == user.account_id
    await provider.update_user(replace(second, verification_level=3))
    claims = await verify(provider, (await provider.password_grant(second.username, PASSWORD)).access_token)
    assert claims["vl"] == 3


async def test_wrong_password_and_unknown_user_get_the_same_answer(provider):
    user = a_user()
    await provider.create_user(user, PASSWORD)
    with pytest.raises(Unauthenticated) as wrong:
        await provider.password_grant(user.username, PASSWORD + "x")
    with pytest.raises(Unauthenticated) as unknown:
        await provider.password_grant(f"nobody{uuid.uuid4().hex[:8]}", PASSWORD)
    with pytest.raises(Unauthenticated) as empty:
        await provider.password_grant("", "")
    assert wrong.value.message == unknown.value.message == empty.value.message == WRONG_CREDENTIALS


async def test_refresh_rotates_and_a_used_refresh_token_is_refused(provider):
    user = a_user()
    await provider.create_user(user, PASSWORD)
    first = await provider.password_grant(user.username, PASSWORD)
    second = await provider.refresh(first.refresh_token)
    assert second.refresh_token and second.refresh_token != first.refresh_token
    claims = await verify(provider, second.access_token)
    assert claims["account_id"] == user.account_id
    with pytest.raises(Unauthenticated):
        await provider.refresh(first.refresh_token)  # reused
    with pytest.raises(Unauthenticated):
        await provider.refresh(second.refresh_token)  # the reuse ended the whole session
    with pytest.raises(Unauthenticated):
        await provider.refresh("not-a-refresh-token")


async def test_logout_ends_the_session(provider):
    user = a_user()
    await provider.create_user(user, PASSWORD)
    tokens = await provider.password_grant(user.username, PASSWORD)
    other = await provider.password_grant(user.username, PASSWORD)  # another device
    await provider.logout(tokens.refresh_token)
    with pytest.raises(Unauthenticated):
        await provider.refresh(tokens.refresh_token)
    await provider.logout(tokens.refresh_token)  # again: nothing to do, no error
    await provider.logout("not-a-refresh-token")
    assert (await provider.refresh(other.refresh_token)).access_token  # only that session ended


async def test_concurrent_sign_ins_of_one_user_all_succeed(provider):
    """Several devices (or a double click) signing in at once with the right password: every
    one gets its own session, none is taken for an attack."""
    user = a_user()
    await provider.create_user(user, PASSWORD)
    results = await asyncio.gather(*(provider.password_grant(user.username, PASSWORD) for _ in range(8)),
                                   return_exceptions=True)
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    assert failures == []
    assert len({t.refresh_token for t in results}) == 8
    for tokens in results:
        assert (await verify(provider, tokens.access_token))["account_id"] == user.account_id


async def test_a_taken_username_is_already_exists(provider):
    user = a_user()
    await provider.create_user(user, PASSWORD)
    with pytest.raises(AlreadyExists):
        await provider.create_user(replace(user, account_id=str(uuid.uuid4())), PASSWORD)
    claims = await verify(provider, (await provider.password_grant(user.username, PASSWORD)).access_token)
    assert claims["account_id"] == user.account_id  # the first one is untouched


async def test_delete_user_is_idempotent(provider):
    user = a_user()
    await provider.create_user(user, PASSWORD)
    await provider.delete_user(user.account_id)
    await provider.delete_user(user.account_id)
    await provider.delete_user(str(uuid.uuid4()))  # never existed
    with pytest.raises(Unauthenticated) as err:
        await provider.password_grant(user.username, PASSWORD)
    assert err.value.message == WRONG_CREDENTIALS
    await provider.create_user(user, PASSWORD)  # the name is free again


async def test_update_user_changes_the_claims_of_the_next_grant(provider):
    official = an_official()
    await provider.create_user(official, PASSWORD)
    before = await provider.password_grant(official.username, PASSWORD)
    changed = replace(official, roles=("approval", "reception"), verification_level=2, agency_code="069.00.99.H29",
                      full_name="Trần Văn Bính")
    await provider.update_user(changed)
    claims = await verify(provider, (await provider.password_grant(official.username, PASSWORD)).access_token)
    assert roles_of(claims) == ["approval", "reception"]
    assert (claims["vl"], claims["agency"], claims["name"]) == (2, "069.00.99.H29", "Trần Văn Bính")
    old = await verify(provider, before.access_token)  # an access token already issued stays as it was
    assert roles_of(old) == ["processing", "reception"]

    await provider.update_user(replace(changed, enabled=False))
    with pytest.raises(Unauthenticated) as err:
        await provider.password_grant(official.username, PASSWORD)
    assert err.value.message == WRONG_CREDENTIALS


async def test_set_password_replaces_the_old_one_and_ends_sessions(provider):
    user = a_user()
    await provider.create_user(user, PASSWORD)
    session = await provider.password_grant(user.username, PASSWORD)
    await provider.set_password(user.account_id, "MatKhauMoi#2027")
    with pytest.raises(Unauthenticated):
        await provider.password_grant(user.username, PASSWORD)
    with pytest.raises(Unauthenticated):
        await provider.refresh(session.refresh_token)
    assert (await provider.password_grant(user.username, "MatKhauMoi#2027")).access_token


async def test_a_commune_system_gets_a_service_token_with_the_resolve_scope(provider):
    tokens = await provider.client_credentials_grant(COMMUNE_CLIENT_ID, COMMUNE_CLIENT_SECRET)
    assert SCOPE_RESOLVE_APPLICANT in tokens.scope.split()
    claims = await verify(provider, tokens.access_token)
    assert SCOPE_RESOLVE_APPLICANT in claims["scope"].split()
    assert (claims["kind"], claims["account_id"], claims["name"]) == ("service", COMMUNE_CLIENT_ID, COMMUNE_NAME)
    # The same claims from both issuers: the client id as user name and as client_id, no agency,
    # no roles, verification level 0.
    assert (claims["preferred_username"], claims["client_id"]) == (COMMUNE_CLIENT_ID, COMMUNE_CLIENT_ID)
    assert claims.get("agency", "") == "" and claims["vl"] == 0
    assert roles_of(claims) == []
    principal = principal_from_claims(claims)
    assert (principal.kind, principal.account_id, principal.agency_code) == ("service", COMMUNE_CLIENT_ID, "")
    with pytest.raises(Unauthenticated):
        await provider.client_credentials_grant(COMMUNE_CLIENT_ID, COMMUNE_CLIENT_SECRET + "x")
    with pytest.raises(Unauthenticated):
        await provider.client_credentials_grant("no-such-system", COMMUNE_CLIENT_SECRET)


# --- Keycloak only -------------------------------------------------------------------------------


async def test_keycloak_unreachable_is_unavailable():
    """Nothing listens on the port: every call says "try again later", never a wrong password."""
    closed = free_port()
    provider = KeycloakProvider(KeycloakSettings(url=f"http://127.0.0.1:{closed}", gateway_client_secret="s",
                                                 admin_client_secret="s", timeout_seconds=2))
    await provider.start()
    try:
        for call in (lambda: provider.password_grant("someone", PASSWORD), lambda: provider.refresh("token"),
                     lambda: provider.create_user(a_user(), PASSWORD), lambda: provider.jwks(),
                     lambda: provider.delete_user(str(uuid.uuid4())), lambda: provider.logout("token"),
                     lambda: provider.client_credentials_grant(COMMUNE_CLIENT_ID, COMMUNE_CLIENT_SECRET)):
            with pytest.raises(Unavailable) as err:
                await call()
            assert "thử lại" in err.value.message
    finally:
        await provider.close()


async def test_keycloak_with_a_wrong_gateway_secret_is_a_fault_not_a_wrong_password(keycloak_settings):
    provider = KeycloakProvider(keycloak_settings.model_copy(update={"gateway_client_secret": SecretStr("wrong")}))
    await provider.start()
    try:
        with pytest.raises(Unavailable):
            await provider.password_grant("someone", PASSWORD)
    finally:
        await provider.close()


async def test_keycloak_still_locks_an_account_after_wrong_passwords(keycloak_settings):
    """Concurrent logins are allowed (see tests/servers/keycloak.py RUNTIME_OPTIONS), yet wrong
    passwords, even sent all at once, lock the account for a while: then the right one is refused."""
    provider = KeycloakProvider(keycloak_settings)
    await provider.start()
    try:
        user = a_user()
        await provider.create_user(user, PASSWORD)
        wrong = await asyncio.gather(*(provider.password_grant(user.username, f"Sai{n}@matkhau") for n in range(4)),
                                     return_exceptions=True)
        assert all(isinstance(r, Unauthenticated) for r in wrong)

        async def status() -> dict:
            return await provider._with_user(user.account_id, "brute_force_status",
                                             lambda a, uid: a.a_get_bruteforce_detection_status(uid))

        # Keycloak records failures after answering: wait until it has.
        deadline = time.monotonic() + 15
        while not (current := await status())["disabled"]:
            assert time.monotonic() < deadline, current
            await asyncio.sleep(0.2)
        assert current["numFailures"] >= 2
        with pytest.raises(Unauthenticated) as err:
            await provider.password_grant(user.username, PASSWORD)
        assert err.value.message == WRONG_CREDENTIALS  # a locked account looks like a wrong password
    finally:
        await provider.close()


async def test_keycloak_issuer_is_the_realm_url(keycloak, keycloak_settings):
    provider = KeycloakProvider(keycloak_settings)
    assert provider.issuer == keycloak.issuer("motcua") == f"{keycloak.url}/realms/motcua"
    assert KeycloakProvider(keycloak_settings.model_copy(update={"issuer": "https://id.example.vn/realms/motcua"})
                            ).issuer == "https://id.example.vn/realms/motcua"


def test_make_provider_builds_keycloak_from_the_environment(monkeypatch):
    monkeypatch.setenv("MOTCUA_KEYCLOAK_URL", "http://keycloak.internal:8080")
    monkeypatch.setenv("MOTCUA_KEYCLOAK_REALM", "motcua")
    monkeypatch.setenv("MOTCUA_KEYCLOAK_GATEWAY_CLIENT_SECRET", "g-secret")
    monkeypatch.setenv("MOTCUA_KEYCLOAK_ADMIN_CLIENT_SECRET", "a-secret")
    built = make_provider("keycloak")
    assert isinstance(built, KeycloakProvider) and built.name == "keycloak" and built.audience == "motcua"
    assert built.issuer == "http://keycloak.internal:8080/realms/motcua"
    assert built.settings.gateway_client_secret.get_secret_value() == "g-secret"
    assert built.settings.admin_client_secret.get_secret_value() == "a-secret"


def test_vietnamese_names_split_family_name_first():
    assert split_name("Nguyễn Văn An") == ("Văn An", "Nguyễn")
    assert split_name("An") == ("An", "")
