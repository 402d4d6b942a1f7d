"""The realm file of deploy/keycloak is valid JSON and keeps what the identity service and the
gateway rely on: the clients, the roles, the claims of the access tokens and the security settings.

(That Keycloak really imports it and issues such tokens is tested against a real server in
tests/identity/test_provider_contract.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from services.identity.providers.base import AUDIENCE, SCOPE_RESOLVE_APPLICANT
from services.identity.providers.keycloak import OFFICIAL_ROLES, KeycloakSettings

REPO = Path(__file__).resolve().parents[2]
REALM_FILE = REPO / "deploy" / "keycloak" / "motcua-realm.json"


@pytest.fixture(scope="module")
def realm() -> dict:
    return json.loads(REALM_FILE.read_text(encoding="utf-8"))


def client(realm: dict, client_id: str) -> dict:
    found = [c for c in realm["clients"] if c["clientId"] == client_id]
    assert len(found) == 1, f"client {client_id} missing or repeated"
    return found[0]


def scope(realm: dict, name: str) -> dict:
    (found,) = [s for s in realm["clientScopes"] if s["name"] == name]
    return found


def test_realm_name_and_token_settings(realm):
    assert realm["realm"] == KeycloakSettings().realm == "motcua" and realm["enabled"] is True
    assert realm["accessTokenLifespan"] == 900
    assert realm["revokeRefreshToken"] is True and realm["refreshTokenMaxReuse"] == 0
    assert realm["bruteForceProtected"] is True and realm["failureFactor"] >= 3
    assert realm["sslRequired"] in ("external", "all")


def test_password_policy_matches_the_local_one(realm):
    policy = dict(re.findall(r"(\w+)\((.*?)\)(?= and |$)", realm["passwordPolicy"]))
    assert policy["length"] == "10" and policy["maxLength"] == "128"
    assert "notContainsUsername" in policy
    # not only letters, not only digits
    pattern = re.compile(policy["regexPattern"].replace(r"\p{L}", "a-zA-ZÀ-ỹ"))
    assert pattern.fullmatch("HoaSen@2026") and pattern.fullmatch("hoasen-mai")
    assert not pattern.fullmatch("1234567890123") and not pattern.fullmatch("HoaSenMaiTrang")


def test_the_official_roles_exist(realm):
    names = {r["name"] for r in realm["roles"]["realm"]}
    assert names == set(OFFICIAL_ROLES)


def test_portal_client_is_public_with_pkce(realm):
    portal = client(realm, "motcua-portal")
    assert portal["publicClient"] is True and portal["standardFlowEnabled"] is True
    assert portal["implicitFlowEnabled"] is False and portal["directAccessGrantsEnabled"] is False
    assert portal["attributes"]["pkce.code.challenge.method"] == "S256"
    assert portal["redirectUris"] == ["http://127.0.0.1:8000/*"]


def test_gateway_client_is_confidential_with_password_and_refresh_grants(realm):
    gateway = client(realm, KeycloakSettings().gateway_client_id)
    assert gateway["publicClient"] is False and gateway["directAccessGrantsEnabled"] is True
    assert gateway["standardFlowEnabled"] is False and gateway["serviceAccountsEnabled"] is False
    assert gateway["attributes"]["use.refresh.tokens"] == "true"
    assert gateway["secret"] == "${MOTCUA_KEYCLOAK_GATEWAY_CLIENT_SECRET}"  # never a secret in the file
    assert gateway["fullScopeAllowed"] is False


def test_identity_admin_client_manages_users_only(realm):
    admin = client(realm, KeycloakSettings().admin_client_id)
    assert admin["serviceAccountsEnabled"] is True and admin["publicClient"] is False
    assert admin["directAccessGrantsEnabled"] is False and admin["standardFlowEnabled"] is False
    assert admin["secret"] == "${MOTCUA_KEYCLOAK_ADMIN_CLIENT_SECRET}"
    (account,) = [u for u in realm["users"] if u.get("serviceAccountClientId") == admin["clientId"]]
    assert sorted(account["clientRoles"]["realm-management"]) == ["manage-users", "query-users", "view-users"]
    assert not account.get("realmRoles")


def test_commune_system_client_has_the_resolve_scope(realm):
    commune = client(realm, "commune-068.00.99.H29")
    assert commune["serviceAccountsEnabled"] is True and commune["directAccessGrantsEnabled"] is False
    assert SCOPE_RESOLVE_APPLICANT in commune["defaultClientScopes"]
    assert scope(realm, SCOPE_RESOLVE_APPLICANT)["attributes"]["include.in.token.scope"] == "true"
    hardcoded = {m["config"]["claim.name"]: m["config"]["claim.value"] for m in commune["protocolMappers"]
                 if m["protocolMapper"] == "oidc-hardcoded-claim-mapper"}
    assert hardcoded["kind"] == "service" and hardcoded["account_id"] == "commune-068.00.99.H29"
    assert hardcoded["agency"] == "068.00.99.H29"


def test_every_secret_is_a_placeholder(realm):
    text = REALM_FILE.read_text(encoding="utf-8")
    for c in realm["clients"]:
        if not c.get("publicClient"):
            assert re.fullmatch(r"\$\{MOTCUA_KEYCLOAK_[A-Z_]+\}", c["secret"]), c["clientId"]
    assert "REPLACE-PER-DEPLOYMENT" in text


def test_access_tokens_carry_the_contract_claims(realm):
    motcua = scope(realm, "motcua")
    for c in realm["clients"]:
        if c["clientId"] != KeycloakSettings().admin_client_id:
            assert "motcua" in c["defaultClientScopes"], c["clientId"]
    mappers = {m["name"]: m for m in motcua["protocolMappers"]}
    by_claim = {m["config"].get("claim.name"): m for m in motcua["protocolMappers"]}
    assert mappers["audience motcua"]["config"]["included.custom.audience"] == AUDIENCE
    assert any(m["protocolMapper"] == "oidc-sub-mapper" for m in motcua["protocolMappers"])
    for claim, attribute in (("account_id", "account_id"), ("kind", "kind"), ("agency", "agency"), ("vl", "vl"),
                             ("name", "full_name"), ("preferred_username", "username")):
        mapper = by_claim[claim]
        assert mapper["protocolMapper"] == "oidc-usermodel-attribute-mapper"
        assert mapper["config"]["user.attribute"] == attribute and mapper["config"]["access.token.claim"] == "true"
    assert by_claim["vl"]["config"]["jsonType.label"] == "int"
    roles = by_claim["roles"]
    assert roles["protocolMapper"] == "oidc-usermodel-realm-role-mapper"
    assert roles["config"]["multivalued"] == "true" and roles["config"]["access.token.claim"] == "true"
    # Only the official roles reach the `roles` claim (no Keycloak default roles).
    for mapping in realm["scopeMappings"]:
        assert set(mapping["roles"]) == set(OFFICIAL_ROLES)
    assert {m["client"] for m in realm["scopeMappings"]} == {"motcua-gateway", "motcua-portal"}


def test_user_profile_declares_the_claim_attributes_admin_only(realm):
    (profile,) = realm["components"]["org.keycloak.userprofile.UserProfileProvider"]
    config = json.loads(profile["config"]["kc.user.profile.config"][0])
    attributes = {a["name"]: a for a in config["attributes"]}
    for name in ("account_id", "kind", "agency", "vl", "full_name"):
        assert attributes[name]["permissions"]["edit"] == ["admin"], name  # a user cannot raise their own level
    assert "unmanagedAttributePolicy" not in config
    assert not any(a.get("required") for a in config["attributes"])  # password grants need no profile step


def test_vneid_federation_is_documented_and_disabled(realm):
    (vneid,) = realm["identityProviders"]
    assert vneid["alias"] == "vneid" and vneid["providerId"] == "oidc" and vneid["enabled"] is False
    for key in ("authorizationUrl", "tokenUrl", "jwksUrl", "issuer"):
        assert "REPLACE-PER-DEPLOYMENT" in vneid["config"][key] and ".invalid" in vneid["config"][key]
    assert vneid["config"]["pkceMethod"] == "S256"
