"""The production manifests in deploy/ are valid and keep the platform's rules.

Every YAML document under deploy/kubernetes is validated against the OpenAPI
schemas of a pinned Kubernetes version with kubernetes-validate, which ships those
schemas inside the package (no network), in strict mode so a misspelt field fails.
On top of the schema, the rules this project relies on are asserted: probes,
resource limits, non-root pods, database URLs from Secrets, placeholder-only
Secrets, and the hash-checked install in the container image.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import kubernetes_validate
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"

#: The Kubernetes version the manifests must be valid for (schemas ship in kubernetes-validate).
KUBERNETES_VERSION = "1.31.0"

NAMESPACE = "motcua"
GRPC_SERVICES = {"identity": 50051, "catalogue": 50052, "dossier": 50053, "notification": 50054}
APP_DEPLOYMENTS = {*GRPC_SERVICES, "gateway"}

YAMLLINT_CONFIG = YamlLintConfig(
    """
extends: default
rules:
  document-start: disable
  line-length: {max: 140}
  comments: {min-spaces-from-content: 2}
  truthy: {check-keys: false}
"""
)


def manifest_files() -> list[Path]:
    return sorted(KUBERNETES.glob("*.yaml"))


def resource_files() -> list[Path]:
    return [p for p in manifest_files() if p.name != "kustomization.yaml"]


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def all_resources() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in resource_files() for doc in load_documents(path)]


def resources_of(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in all_resources() if doc["kind"] == kind}


def workloads() -> Iterator[dict[str, Any]]:
    for _, doc in all_resources():
        if doc["kind"] in ("Deployment", "StatefulSet"):
            yield doc


def resource_id(item: tuple[Path, dict[str, Any]]) -> str:
    path, doc = item
    return f"{path.name}:{doc['kind']}/{doc['metadata']['name']}"


RESOURCES = all_resources()


def test_there_are_manifests() -> None:
    kinds = {doc["kind"] for _, doc in RESOURCES}
    assert {
        "Namespace", "ConfigMap", "Secret", "Deployment", "StatefulSet", "Service",
        "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy",
    } <= kinds


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_yamllint(path: Path) -> None:
    problems = list(linter.run(path.read_text(), YAMLLINT_CONFIG, str(path)))
    assert not problems, "\n".join(f"{path.name}:{p.line}:{p.column} {p.message} ({p.rule})" for p in problems)


@pytest.mark.parametrize("item", RESOURCES, ids=resource_id)
def test_schema_valid_for_pinned_kubernetes(item: tuple[Path, dict[str, Any]]) -> None:
    _, doc = item
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{resource_id(item)} invalid for Kubernetes {KUBERNETES_VERSION}: {path}: {exc.message}")


@pytest.mark.parametrize("item", RESOURCES, ids=resource_id)
def test_namespaced_in_motcua(item: tuple[Path, dict[str, Any]]) -> None:
    _, doc = item
    if doc["kind"] == "Namespace":
        assert doc["metadata"]["name"] == NAMESPACE
    else:
        assert doc["metadata"].get("namespace") == NAMESPACE


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == NAMESPACE
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(p.name for p in resource_files())


def test_every_app_has_a_deployment_service_and_pdb() -> None:
    deployments = resources_of("Deployment")
    services = resources_of("Service")
    pdbs = resources_of("PodDisruptionBudget")
    assert APP_DEPLOYMENTS | {"keycloak"} <= set(deployments)
    assert APP_DEPLOYMENTS | {"keycloak", "nats"} <= set(services)
    assert set(deployments) | {"nats"} <= set(pdbs)
    for name, port in GRPC_SERVICES.items():
        ports = services[name]["spec"]["ports"]
        assert [p["port"] for p in ports] == [port]


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


@pytest.mark.parametrize("workload", list(workloads()), ids=lambda w: f"{w['kind']}/{w['metadata']['name']}")
def test_workload_probes_limits_and_non_root(workload: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    pod_sc = pod.get("securityContext", {})
    assert pod_sc.get("runAsNonRoot") is True
    assert pod_sc.get("runAsUser", 0) > 0
    assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    selector = workload["spec"]["selector"]["matchLabels"]
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    for container in _containers(workload):
        assert "readinessProbe" in container, container["name"]
        assert "livenessProbe" in container, container["name"]
        limits = container.get("resources", {}).get("limits", {})
        requests = container.get("resources", {}).get("requests", {})
        assert {"cpu", "memory"} <= limits.keys(), container["name"]
        assert {"cpu", "memory"} <= requests.keys(), container["name"]
        sc = container.get("securityContext", {})
        assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True
        assert sc.get("allowPrivilegeEscalation") is False
        assert sc.get("capabilities", {}).get("drop") == ["ALL"]
        assert sc.get("runAsUser", pod_sc.get("runAsUser")) != 0
        assert ":" in container["image"] and not container["image"].endswith(":latest")


@pytest.mark.parametrize("name", sorted(GRPC_SERVICES))
def test_grpc_service_deployment(name: str) -> None:
    deployment = resources_of("Deployment")[name]
    (container,) = _containers(deployment)
    port = GRPC_SERVICES[name]
    assert container["args"] == ["python", "-m", f"services.{name}"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == port, probe
    assert [p["containerPort"] for p in container["ports"]] == [port]

    env = {e["name"]: e for e in container["env"]}
    db = env[f"MOTCUA_{name.upper()}_DATABASE_URL"]
    assert db["valueFrom"]["secretKeyRef"]["name"] == f"motcua-{name}-database"
    assert "value" not in db
    token = env["MOTCUA_INTERNAL_TOKEN_SECRET"]
    assert "secretKeyRef" in token["valueFrom"]
    # A service listens on its own address: every interface, its own port.
    assert env[f"MOTCUA_{name.upper()}_ADDR"]["value"] == f"0.0.0.0:{port}"
    # Each service sees only its own database URL.
    others = {f"MOTCUA_{o.upper()}_DATABASE_URL" for o in GRPC_SERVICES if o != name}
    assert not others & env.keys()
    assert {"configMapRef": {"name": "motcua-config"}} in container["envFrom"]


def test_gateway_deployment() -> None:
    (container,) = _containers(resources_of("Deployment")["gateway"])
    assert container["args"] == ["python", "-m", "gateway"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
        assert container[probe]["httpGet"]["port"] in (8000, "http")
    assert [p["containerPort"] for p in container["ports"]] == [8000]
    assert not any(e["name"].endswith("_DATABASE_URL") for e in container.get("env", []))


def test_config_names_every_address_and_setting() -> None:
    data = resources_of("ConfigMap")["motcua-config"]["data"]
    for name, port in GRPC_SERVICES.items():
        host, _, addr_port = data[f"MOTCUA_{name.upper()}_ADDR"].rpartition(":")
        assert host and int(addr_port) == port
    assert data["MOTCUA_NATS_URL"].startswith("nats://")
    assert data["MOTCUA_IDENTITY_PROVIDER"] in ("local", "keycloak")
    assert data["MOTCUA_LOG_LEVEL"]
    assert not any(key.endswith(("_DATABASE_URL", "_SECRET")) for key in data)


def test_autoscalers_target_gateway_and_dossier() -> None:
    hpas = resources_of("HorizontalPodAutoscaler")
    deployments = resources_of("Deployment")
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()}
    assert {"gateway", "dossier"} <= targets
    for hpa in hpas.values():
        target = deployments[hpa["spec"]["scaleTargetRef"]["name"]]
        assert "replicas" not in target["spec"], "the HPA owns replicas"
        assert hpa["spec"]["minReplicas"] >= 2


def test_nats_is_a_three_node_jetstream_cluster() -> None:
    nats = resources_of("StatefulSet")["nats"]
    assert nats["spec"]["replicas"] == 3
    assert nats["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    config = resources_of("ConfigMap")["nats-config"]["data"]["nats.conf"]
    assert "jetstream" in config and "store_dir: /data" in config
    routes = re.findall(r"nats://(nats-\d)\.nats-headless:6222", config)
    assert routes == ["nats-0", "nats-1", "nats-2"]
    headless = resources_of("Service")["nats-headless"]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    (container,) = _containers(nats)
    assert container["image"].startswith("nats:")


def test_keycloak_imports_the_realm_from_a_configmap() -> None:
    keycloak = resources_of("Deployment")["keycloak"]
    (container,) = _containers(keycloak)
    assert container["image"].startswith("quay.io/keycloak/keycloak:")
    assert "--import-realm" in container["args"]
    volumes = {v["name"]: v for v in keycloak["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert volumes[mounts["/opt/keycloak/data/import"]]["configMap"]["name"] == "keycloak-realm"


def test_network_policies_only_gateway_and_services_reach_services() -> None:
    policies = resources_of("NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    service_policies = [
        p["spec"] for p in policies.values()
        if p["spec"]["podSelector"].get("matchLabels", {}).get("motcua.io/tier") == "service"
    ]
    assert len(service_policies) == 1
    (rule,) = service_policies[0]["ingress"]
    (peer,) = rule["from"]
    (expression,) = peer["podSelector"]["matchExpressions"]
    assert expression["key"] == "motcua.io/tier" and expression["operator"] == "In"
    assert sorted(expression["values"]) == ["gateway", "service"]
    assert sorted(p["port"] for p in rule["ports"]) == sorted(GRPC_SERVICES.values())
    # The tier labels the policies select on are on the pods.
    deployments = resources_of("Deployment")
    for name in GRPC_SERVICES:
        assert deployments[name]["spec"]["template"]["metadata"]["labels"]["motcua.io/tier"] == "service"
    assert deployments["gateway"]["spec"]["template"]["metadata"]["labels"]["motcua.io/tier"] == "gateway"


def test_secret_template_holds_placeholders_only() -> None:
    secrets = [doc for path, doc in RESOURCES if doc["kind"] == "Secret"]
    assert all(path.name == "secret-template.yaml" for path, doc in RESOURCES if doc["kind"] == "Secret")
    names = {s["metadata"]["name"] for s in secrets}
    assert {f"motcua-{n}-database" for n in GRPC_SERVICES} | {"motcua-internal-token"} <= names
    for secret in secrets:
        assert "data" not in secret, "use stringData placeholders, never encoded values"
        for key, value in secret["stringData"].items():
            if key in ("url", "password", "secret"):
                assert "REPLACE_ME" in value, f"{secret['metadata']['name']}.{key} is not a placeholder"
    for name in GRPC_SERVICES:
        url = next(s for s in secrets if s["metadata"]["name"] == f"motcua-{name}-database")["stringData"]["url"]
        assert url.startswith("postgresql+asyncpg://") and url.split("?")[0].endswith(f"/{name}")


def test_every_secret_and_configmap_reference_exists() -> None:
    secrets = {name: set(doc.get("stringData", {})) for name, doc in resources_of("Secret").items()}
    configmaps = set(resources_of("ConfigMap")) | {"keycloak-realm"}  # made from deploy/keycloak/
    for workload in workloads():
        for container in _containers(workload):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in configmaps
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]], env["name"]
        for volume in workload["spec"]["template"]["spec"].get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps


def test_dockerfile_installs_the_hash_checked_lock() -> None:
    text = DOCKERFILE.read_text()
    instructions = [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines() if line.strip() and not line.startswith("#")]
    runs = [line for line in instructions if line.startswith("RUN ")]
    assert any(
        re.search(r"pip install .*--require-hashes\b.*-r requirements\.lock", run) for run in runs
    ), "the image must install requirements.lock with --require-hashes"
    assert any(line.startswith("FROM python:3.11-slim") or "PYTHON_IMAGE=python:3.11-slim" in line for line in instructions)
    assert any("grpc_tools.protoc" in run and "--pyi_out=gen" in run for run in runs)
    users = [line for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] not in ("0", "root")
    assert any(re.search(r"PYTHONPATH=/app:/app/gen\b", line) for line in instructions)
