"""The shipped deployment manifests (deploy/compose, deploy/kubernetes) are valid, offline.

Docker Compose: Debian's ``docker-compose config`` (no container engine needed). Kubernetes:
``kubernetes-validate --strict`` (it ships the API schemas). Prometheus and Alertmanager
configurations: ``promtool`` and ``amtool``. And every ``PULSE_*`` variable the manifests give
a worker is a setting the worker reads: the settings ignore unknown variables, so a misspelt
one would be dropped without a word.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from outcome_pulse.sinks.pipeline_rules import JOB, pipeline_rules, render_rules
from outcome_pulse.streams.settings import PulseSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose" / "compose.yaml"
KUBERNETES = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))
K8S_VERSION = "1.30.0"
SECRETS = {"PULSE_PG_PASSWORD": "secret", "GRAFANA_ADMIN_PASSWORD": "secret"}


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is missing: deploy/local/install.sh and scripts/venv.sh install it")
    return found


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, check=False)


def _compose_config(**extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith("PULSE_")}
    env.update(extra)
    return _run(_tool("docker-compose"), "-f", str(COMPOSE), "config", env=env)


def _k8s_documents() -> list[dict[str, Any]]:
    return [d for f in KUBERNETES for d in yaml.safe_load_all(f.read_text()) if d]


def test_compose_file_is_valid_and_scales_the_workers() -> None:
    done = _compose_config(**SECRETS, PULSE_WORKERS="3")
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert set(resolved["services"]) == {
        "kafka", "db", "init", "worker", "evaluator", "prometheus", "alertmanager", "grafana"
    }  # fmt: skip
    worker, evaluator = resolved["services"]["worker"], resolved["services"]["evaluator"]
    assert worker["deploy"]["replicas"] == 3
    assert worker["environment"]["PULSE_WORKER_ROLE"] == "all"  # one process does both
    assert evaluator["profiles"] == ["split"]  # evaluators only when asked for
    assert evaluator["environment"]["PULSE_WORKER_ROLE"] == "evaluate"
    assert evaluator["environment"]["PULSE_APP_ID"] == worker["environment"]["PULSE_APP_ID"]


def test_compose_splits_ingestion_and_evaluation_when_asked() -> None:
    done = _compose_config(**SECRETS, PULSE_WORKER_ROLE="ingest", PULSE_EVALUATORS="3")
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert services["worker"]["environment"]["PULSE_WORKER_ROLE"] == "ingest"
    assert services["evaluator"]["deploy"]["replicas"] == 3


def test_kubernetes_evaluators_are_off_and_scraped_with_the_workers() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _k8s_documents()}
    evaluator, worker = docs[("Deployment", "evaluator")], docs[("Deployment", "worker")]
    assert evaluator["spec"]["replicas"] == 0
    assert docs[("ConfigMap", "pulse-env")]["data"]["PULSE_WORKER_ROLE"] == "all"
    [container] = evaluator["spec"]["template"]["spec"]["containers"]
    assert {"name": "PULSE_WORKER_ROLE", "value": "evaluate"} in container["env"]
    selectors = [d["spec"]["selector"]["matchLabels"] for d in (worker, evaluator)]
    assert selectors[0] != selectors[1]  # the Deployments do not adopt each other's pods
    scraped = docs[("Service", "worker")]["spec"]["selector"]
    for deployment in (worker, evaluator):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert scraped.items() <= labels.items()


def test_compose_refuses_to_start_without_the_database_password() -> None:
    done = _compose_config(GRAFANA_ADMIN_PASSWORD="secret")
    assert done.returncode != 0
    assert "PULSE_PG_PASSWORD" in done.stderr


def test_kubernetes_manifests_validate_against_the_shipped_schemas() -> None:
    assert KUBERNETES, "deploy/kubernetes has no manifests"
    done = _run(_tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, *map(str, KUBERNETES))
    assert done.returncode == 0, done.stdout + done.stderr
    kinds = {(d["kind"], d["metadata"]["name"]) for d in _k8s_documents()}
    for wanted in [("StatefulSet", "kafka"), ("StatefulSet", "db"), ("Deployment", "worker")]:
        assert wanted in kinds
    for app in ["prometheus", "alertmanager", "grafana"]:
        assert ("Deployment", app) in kinds


def test_the_kubernetes_validator_rejects_a_misspelt_field(tmp_path: Path) -> None:
    broken = (REPO / "deploy" / "kubernetes" / "40-worker.yaml").read_text()
    broken = broken.replace("replicas: 3", "replica: 3")
    (tmp_path / "worker.yaml").write_text(broken)
    done = _run(
        _tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, str(tmp_path / "worker.yaml")
    )
    assert done.returncode != 0


def _worker_variables() -> dict[str, str]:
    compose = yaml.safe_load(COMPOSE.read_text())
    found = dict(compose["x-pulse-env"])
    for service in ("worker", "evaluator"):
        found.update(compose["services"][service]["environment"])
    for doc in _k8s_documents():
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "pulse-env":
            found.update(doc["data"])
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] in ("worker", "evaluator"):
            spec = doc["spec"]["template"]["spec"]
            for container in spec["containers"] + spec.get("initContainers", []):
                found.update({e["name"]: e.get("value", "") for e in container.get("env", [])})
    return found


def test_every_pulse_variable_given_to_a_worker_is_a_setting() -> None:
    names = {f"PULSE_{field.upper()}" for field in PulseSettings.model_fields}
    given = {k for k in _worker_variables() if k.startswith("PULSE_")}
    assert given, "no PULSE_ variable found: the test reads the wrong place"
    assert given - names == set()
    assert {"PULSE_KAFKA_BOOTSTRAP", "PULSE_DATABASE_URL", "PULSE_METRICS_HOST"} <= given


def _k8s_config(name: str, key: str) -> str:
    for doc in _k8s_documents():
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == name:
            return str(doc["data"][key])
    raise AssertionError(f"no config map {name}")


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_prometheus_and_alertmanager_configurations_pass_their_checkers(
    where: str, tmp_path: Path
) -> None:
    if where == "compose":
        prometheus = COMPOSE.parent / "prometheus.yml"
        alertmanager = COMPOSE.parent / "alertmanager.yml"
    else:
        prometheus = tmp_path / "prometheus.yml"
        prometheus.write_text(_k8s_config("prometheus", "prometheus.yml"))
        # The config map is mounted as one directory: its rule file lies beside the config.
        rules = tmp_path / "pulse_pipeline_rules.yml"
        rules.write_text(_k8s_config("prometheus", "pulse_pipeline_rules.yml"))
        alertmanager = tmp_path / "alertmanager.yml"
        alertmanager.write_text(_k8s_config("alertmanager", "alertmanager.yml"))
    done = _run(_tool("promtool"), "check", "config", str(prometheus))
    assert done.returncode == 0, done.stdout + done.stderr
    # The pipeline's rule file is loaded (promtool checks every rule file the config names).
    count = len(pipeline_rules()["groups"][0]["rules"])
    assert "1 rule files found" in done.stdout, done.stdout
    assert f"SUCCESS: {count} rules found" in done.stdout, done.stdout
    # ... and the rules select the job the config scrapes the workers as.
    config = yaml.safe_load(prometheus.read_text())
    assert [job["job_name"] for job in config["scrape_configs"]] == [JOB]
    done = _run(_tool("amtool"), "check-config", str(alertmanager))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_shipped_prometheus_configs_carry_the_generated_rules() -> None:
    """Compose mounts deploy/prometheus/pulse_pipeline_rules.yml (generated, compared with
    `pulse alerts rules` by tests/integration/test_pipeline_rules.py) where its config names
    it; the Kubernetes config map carries the same text."""
    compose = yaml.safe_load(COMPOSE.read_text())
    config_dir = Path("/etc/prometheus")
    volumes = {}
    for volume in compose["services"]["prometheus"]["volumes"]:
        source, target, *_ = volume.split(":")
        volumes[Path(target)] = (COMPOSE.parent / source).resolve()
    named = yaml.safe_load((COMPOSE.parent / "prometheus.yml").read_text())["rule_files"]
    assert len(named) == 1
    in_container = Path(os.path.normpath(config_dir / named[0]))
    assert volumes[in_container] == REPO / "deploy" / "prometheus" / "pulse_pipeline_rules.yml"
    assert _k8s_config("prometheus", "pulse_pipeline_rules.yml") == render_rules()
