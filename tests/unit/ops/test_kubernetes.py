"""deploy/k8s: every overlay renders with `kubectl kustomize` and validates against the Kubernetes schemas.

Built-in kinds are validated by kubernetes-validate (strict: an unknown field is an error, so a typo
fails CI). CloudNativePG's CRDs have no schema there; they are validated against
tests/unit/ops/schemas/cnpg-v1.json, a strict subset of the CNPG v1 API. Then the rules the issue
sets: replicas, probes on the health endpoints, requests/limits, PDBs, HPAs for the stateless
services only, secret references without values, the migration Job, the maintenance CronJob,
REGISTRATION_ENABLED as a setting, the WAF and the blue/green canary annotations.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.support.services import in_ci

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("blue", "green", "ops", "staging", "cloudnativepg")
K8S_VERSION = "1.30.0"
CNPG_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "cnpg-v1.json").read_text())
EXPECTED_REPLICAS = {"auth": 3, "wallet": 3, "trade": 2, "frontend": 2, "notifier": 1}


def _kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        if in_ci():
            pytest.fail("kubectl (with kustomize) is required in CI")
        pytest.skip("kubectl is not installed")
    return path


@cache
def render(target: str) -> tuple[dict, ...]:
    done = subprocess.run([_kubectl(), "kustomize", str(K8S / target)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def _by_kind(docs: tuple[dict, ...], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("overlay", [*OVERLAYS, "ingress-nginx"])
def test_overlay_renders_and_validates_against_the_schemas(overlay):
    docs = render(overlay if overlay == "ingress-nginx" else f"overlays/{overlay}")
    assert docs
    for doc in docs:
        if doc["apiVersion"].startswith("postgresql.cnpg.io/"):
            jsonschema.validate(doc, CNPG_SCHEMA[doc["kind"]])
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_a_typo_fails_validation():
    deployment = json.loads(json.dumps(_by_kind(render("overlays/blue"), "Deployment")["auth"]))
    deployment["spec"]["replicaz"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    cluster = json.loads(json.dumps(_by_kind(render("overlays/cloudnativepg"), "Cluster")["mycrypto-pg"]))
    cluster["spec"]["instance"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cluster, CNPG_SCHEMA["Cluster"])


@pytest.mark.parametrize("color", ["blue", "green"])
def test_services_have_replicas_probes_resources_and_no_secret_values(color):
    docs = render(f"overlays/{color}")
    assert not [d for d in docs if d["kind"] == "Secret"], "secret values must never be in the manifests"
    deployments = _by_kind(docs, "Deployment")
    assert {n: d["spec"]["replicas"] for n, d in deployments.items()} == EXPECTED_REPLICAS
    for name, deployment in deployments.items():
        assert deployment["metadata"]["namespace"] == f"mycrypto-{color}"
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["serve", name]
        assert container["image"].startswith("registry.example.com/mycrypto:")
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        refs = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]
        assert refs and all(r["name"] == "mycrypto-secrets" for r in refs)
        assert not [e for e in container["env"] if e["name"] in ("JWT_SECRET", "DATA_ENCRYPTION_KEY", "DATABASE_URL")
                    and "value" in e], "secrets are referenced, never inlined"
        db_key = next(r["key"] for e, r in zip(container["env"], refs) if e["name"] == "DATABASE_URL")
        # trade holds session advisory locks: it must not go through PgBouncer in transaction mode
        assert db_key == ("database-url-direct" if name == "trade" else "database-url")
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("mycrypto-config"))
    assert config["data"]["REGISTRATION_ENABLED"] in ("true", "false")
    assert config["data"]["METRICS_PORT"] == "9102" and config["data"]["MYCRYPTO_ENV"] == "production"


def test_pdbs_for_every_serving_deployment_and_hpas_only_for_stateless_ones():
    docs = render("overlays/blue")
    assert set(_by_kind(docs, "PodDisruptionBudget")) == {"auth", "wallet", "trade", "frontend"}
    hpas = _by_kind(docs, "HorizontalPodAutoscaler")
    assert set(hpas) == {"auth", "wallet", "frontend"}, "trade (market owners) and the notifier are not autoscaled"
    for name, hpa in hpas.items():
        assert hpa["spec"]["minReplicas"] == EXPECTED_REPLICAS[name]


def test_ingress_has_the_waf_never_routes_metrics_and_green_is_the_canary():
    blue = _by_kind(render("overlays/blue"), "Ingress")["mycrypto"]
    green = _by_kind(render("overlays/green"), "Ingress")["mycrypto"]
    for ingress in (blue, green):
        notes = ingress["metadata"]["annotations"]
        assert notes["nginx.ingress.kubernetes.io/enable-modsecurity"] == "true"
        assert notes["nginx.ingress.kubernetes.io/enable-owasp-core-rules"] == "true"
        for path in ingress["spec"]["rules"][0]["http"]["paths"]:
            assert path["backend"]["service"]["port"] == {"name": "http"}, "only the http port is public"
            assert "metrics" not in path["path"]
    assert "nginx.ingress.kubernetes.io/canary" not in blue["metadata"]["annotations"]
    canary = green["metadata"]["annotations"]
    assert canary["nginx.ingress.kubernetes.io/canary"] == "true"
    assert canary["nginx.ingress.kubernetes.io/canary-weight"] == "0"
    assert canary["nginx.ingress.kubernetes.io/canary-by-header"] == "X-Test-Green"
    waf = render("ingress-nginx")[0]["data"]
    assert waf["enable-owasp-modsecurity-crs"] == "true" and "SecRuleEngine On" in waf["modsecurity-snippet"]
    assert "tx.allowed_methods=GET HEAD POST OPTIONS PATCH DELETE" in waf["modsecurity-snippet"]


def test_ops_overlay_has_the_migration_job_and_the_cronjobs():
    docs = render("overlays/ops")
    job = _by_kind(docs, "Job")["mycrypto-migrate"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    cronjobs = _by_kind(docs, "CronJob")
    args = {n: c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] for n, c in cronjobs.items()}
    assert args["mycrypto-maintenance"] == ["maintenance"]
    assert args["mycrypto-integrity"] == ["integrity", "--record"]
    assert args["mycrypto-backup"][0] == "backup"
    assert all(c["spec"]["concurrencyPolicy"] == "Forbid" for c in cronjobs.values())


def test_cloudnativepg_cluster_is_ha_with_wal_archiving_backups_and_a_transaction_pooler():
    docs = render("overlays/cloudnativepg")
    cluster = _by_kind(docs, "Cluster")["mycrypto-pg"]["spec"]
    assert cluster["instances"] >= 3 and cluster["backup"]["barmanObjectStore"]["wal"]
    assert _by_kind(docs, "ScheduledBackup")["mycrypto-pg-nightly"]["spec"]["cluster"]["name"] == "mycrypto-pg"
    assert _by_kind(docs, "Pooler")["mycrypto-pg-pooler"]["spec"]["pgbouncer"]["poolMode"] == "transaction"
