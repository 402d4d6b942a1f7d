"""The realm file of deploy/keycloak is valid JSON and keeps what the identity service and the
gateway rely on: the clients, the roles, the claims of the access tokens and the security settings;
and Kubernetes runs the Keycloak the tests run, with this realm and the secrets it reads.

(That Keycloak really imports it and issues such tokens is tested against a real server in
tests/identity/test_provider_contract.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from services.identity.providers.base import AUDIENCE, SCOPE_RESOLVE_APPLICANT
from services.identity.providers.keycloak import OFFICIAL_ROLES, KeycloakSettings
from tests.servers.keycloak import KEYCLOAK_VERSION, RUNTIME_OPTIONS

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
    assert hardcoded["vl"] == "0" and hardcoded["name"]
    # As the embedded issuer: no agency for a machine client (its table has none).
    assert "agency" not in hardcoded


def test_machine_clients_get_the_service_claims_not_a_persons(realm):
    """The embedded issuer writes the client id into `preferred_username` and `client_id`; Keycloak
    would write its service-account user name (service-account-...) through the person scope."""
    machines = [c for c in realm["clients"]
                if c.get("serviceAccountsEnabled") and c["clientId"] != KeycloakSettings().admin_client_id]
    assert machines
    for machine in machines:
        assert "motcua-service" in machine["defaultClientScopes"] and "motcua" not in machine["defaultClientScopes"]
        assert not any(m["config"].get("claim.name") in ("preferred_username", "client_id")
                       for m in machine.get("protocolMappers", []))
    service = scope(realm, "motcua-service")
    by_claim = {m["config"].get("claim.name"): m for m in service["protocolMappers"]}
    for claim in ("client_id", "preferred_username"):
        assert by_claim[claim]["protocolMapper"] == "oidc-usersessionmodel-note-mapper"
        assert by_claim[claim]["config"]["user.session.note"] == "client_id"
        assert by_claim[claim]["config"]["access.token.claim"] == "true"
    (audience,) = [m for m in service["protocolMappers"] if m["protocolMapper"] == "oidc-audience-mapper"]
    assert audience["config"]["included.custom.audience"] == AUDIENCE
    assert any(m["protocolMapper"] == "oidc-sub-mapper" for m in service["protocolMappers"])


def test_every_secret_is_a_placeholder(realm):
    text = REALM_FILE.read_text(encoding="utf-8")
    for c in realm["clients"]:
        if not c.get("publicClient"):
            assert re.fullmatch(r"\$\{MOTCUA_KEYCLOAK_[A-Z_]+\}", c["secret"]), c["clientId"]
    assert "REPLACE-PER-DEPLOYMENT" in text


def test_access_tokens_carry_the_contract_claims(realm):
    motcua = scope(realm, "motcua")
    for c in realm["clients"]:
        if not c.get("serviceAccountsEnabled"):  # the clients people sign in through
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


# --- how Kubernetes runs Keycloak with this realm (deploy/kubernetes/keycloak.yaml) -------------

KUBERNETES = REPO / "deploy" / "kubernetes"


def _documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((KUBERNETES / name).read_text()) if d]


def _keycloak_container() -> dict:
    (deployment,) = [d for d in _documents("keycloak.yaml") if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_kubernetes_runs_the_tested_keycloak_in_production_mode():
    container = _keycloak_container()
    assert container["image"] == f"quay.io/keycloak/keycloak:{KEYCLOAK_VERSION}"
    assert container["args"][0] == "start" and "start-dev" not in container["args"]
    assert "--import-realm" in container["args"]
    # The options the contract tests run with (concurrent logins of one user allowed).
    assert set(RUNTIME_OPTIONS) <= set(container["args"])


def test_kubernetes_gives_keycloak_postgresql_and_management_probes():
    container = _keycloak_container()
    (config,) = [d for d in _documents("configmap.yaml") if d["metadata"]["name"] == "keycloak-config"]
    assert {"configMapRef": {"name": "keycloak-config"}} in container["envFrom"]
    assert config["data"]["KC_DB"] == "postgres" and config["data"]["KC_HEALTH_ENABLED"] == "true"
    env = {e["name"]: e for e in container["env"]}
    for name, key in (("KC_DB_URL", "url"), ("KC_DB_USERNAME", "username"), ("KC_DB_PASSWORD", "password")):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "keycloak-database", "key": key}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["management"] == 9000
    for probe, path in (("startupProbe", "/health/started"), ("readinessProbe", "/health/ready"),
                        ("livenessProbe", "/health/live")):
        assert container[probe]["httpGet"] == {"path": path, "port": "management"}, probe


def test_kubernetes_passes_every_secret_the_realm_import_reads():
    placeholders = dict(re.findall(r"\$\{(MOTCUA_KEYCLOAK_[A-Z_]+)(:[^}]*)?\}", REALM_FILE.read_text(encoding="utf-8")))
    assert {"MOTCUA_KEYCLOAK_GATEWAY_CLIENT_SECRET", "MOTCUA_KEYCLOAK_ADMIN_CLIENT_SECRET",
            "MOTCUA_KEYCLOAK_COMMUNE_SAIGON_SECRET"} <= placeholders.keys()
    env = {e["name"]: e for e in _keycloak_container()["env"]}
    (secret,) = [d for d in _documents("secret-template.yaml") if d["metadata"]["name"] == "keycloak-clients"]
    for name, default in placeholders.items():
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "keycloak-clients" and ref["key"] in secret["stringData"], name
        assert "value" not in env[name]
        # Only a placeholder with a default (VNeID, disabled) may be missing from the Secret.
        assert ref.get("optional", False) is bool(default), name
    assert all(v == "REPLACE_ME" for v in secret["stringData"].values())


def test_kustomize_generates_the_realm_configmap_from_the_realm_file():
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert "../keycloak" in kustomization["components"]
    component = yaml.safe_load((REALM_FILE.parent / "kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    (generator,) = component["configMapGenerator"]
    assert generator["name"] == "keycloak-realm" and generator["files"] == [REALM_FILE.name]
    (deployment,) = [d for d in _documents("keycloak.yaml") if d["kind"] == "Deployment"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in _keycloak_container()["volumeMounts"]}
    assert volumes[mounts["/opt/keycloak/data/import"]]["configMap"]["name"] == "keycloak-realm"
