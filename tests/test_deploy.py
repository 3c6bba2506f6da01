"""The deployment files under ``deploy/``, checked without a cluster: the
Kubernetes manifests against the API schemas (``kubernetes-validate``), all
YAML with ``yamllint``, the Dockerfile with ``hadolint``, the HAProxy
configuration with ``haproxy -c``; and the numbers that must agree across
them (drain, grace periods, health-check timing) through Grover's own
settings parser."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from server import config
from server.config import Settings
from tests.test_rolling_restart import HAPROXY, haproxy_config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
HAPROXY_CFG = DEPLOY / "haproxy" / "haproxy.cfg"
KUBERNETES_VERSION = "1.37.0"
STOP_MARGIN = 5.0
"""Seconds a stopping node needs after its drain and its outboxes' grace:
closing sockets (2 s close timeout), leaving the cluster, passivating."""


def _manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object under deploy/k8s, by kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in found, f"two {document['kind']}s"
            found[document["kind"]] = document
    return found


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return data


def _seconds(text: str) -> float:
    """``20s``, ``2s``, ``200ms`` (Compose and HAProxy durations)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", text)
    assert match, text
    value, unit = float(match[1]), match[2]
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def _interpolated(environment: dict[str, str]) -> dict[str, str]:
    """Compose's ``${NAME:-default}`` with nothing set: the defaults."""
    return {
        name: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))
        for name, value in environment.items()
    }


def test_kubernetes_manifests_match_the_api_schemas() -> None:
    manifests = _manifests()
    assert set(manifests) == {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }
    for kind, manifest in manifests.items():
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{kind}: {exc.message} at {list(exc.path)}")
    assert manifests["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"


def test_every_yaml_file_passes_yamllint() -> None:
    rules = YamlLintConfig(file=str(DEPLOY / ".yamllint"))
    files = [
        path
        for path in sorted(ROOT.rglob("*.y*ml"))
        if path.suffix in (".yml", ".yaml")
        and not any(part.startswith(".") or part == "node_modules" for part in path.parts)
    ]
    assert DEPLOY / "docker-compose.yml" in files
    problems = [
        f"{path.relative_to(ROOT)}:{problem.line}: {problem.desc} ({problem.rule})"
        for path in files
        for problem in linter.run(path.read_text(), rules, str(path))
    ]
    assert problems == []


def test_dockerfile_passes_hadolint() -> None:
    binary = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [binary, str(ROOT / "Dockerfile")], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (make haproxy)")
@pytest.mark.parametrize("which", ["deploy/haproxy/haproxy.cfg", "the rolling restart's"])
def test_haproxy_accepts_the_configuration(which: str, tmp_path: Path) -> None:
    path = HAPROXY_CFG
    if which != "deploy/haproxy/haproxy.cfg":
        path = tmp_path / "haproxy.cfg"
        path.write_text(haproxy_config(8765, 8766, tmp_path / "sock", []))
    result = subprocess.run(
        [str(HAPROXY), "-c", "-f", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The service names resolve only inside Compose; anything else is a finding.
    warnings = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "WARNING" in line and "could not resolve address" not in line
    ]
    assert warnings == []


def test_haproxy_balances_websockets_over_every_compose_node_by_readiness() -> None:
    text = HAPROXY_CFG.read_text()
    nodes = sorted(name for name in _compose()["services"] if name.startswith("grover"))
    assert nodes == ["grover1", "grover2", "grover3"]
    backend = re.split(r"^backend grover_ws$", text, flags=re.M)[1].split("\nbackend ", 1)[0]
    servers = re.findall(r"^\s*server (\S+) (\S+):8765 check port 8080$", backend, re.M)
    assert sorted(servers) == [(n, n) for n in nodes]
    for line in (
        "balance leastconn",
        "option httpchk GET /readyz",
        "http-check expect status 200",
    ):
        assert line in backend
    assert re.search(r"^\s*timeout tunnel 1h$", text, re.M)
    # The test runs the same shape (faster checks) in front of real nodes.
    tested = haproxy_config(1, 2, Path("sock"), [])
    for line in ("balance leastconn", "option httpchk GET /readyz", "timeout tunnel 1h"):
        assert line in tested


def test_compose_has_the_nodes_redis_and_an_initiated_replica_set() -> None:
    services = _compose()["services"]
    assert {"redis", "mongo1", "mongo2", "mongo3", "mongo-init", "haproxy"} <= set(services)
    for name in ("grover1", "grover2", "grover3"):
        node = services[name]
        assert node["build"] == {"context": "..", "dockerfile": "Dockerfile"}
        env = node["environment"]
        assert env["GROVER_REDIS_URL"].startswith("redis://redis:")
        assert (
            "replicaSet=rs0" in env["GROVER_MONGO_URL"] and "w=majority" in env["GROVER_MONGO_URL"]
        )
        assert node["depends_on"]["mongo-init"]["condition"] == "service_completed_successfully"
    for member in ("mongo1", "mongo2", "mongo3"):
        assert "--replSet" in services[member]["command"]
    script = services["mongo-init"]["command"][-1]
    assert "rs.initiate" in script
    assert all(f"mongo{i}:27017" in script for i in (1, 2, 3))


def test_settings_in_compose_parse_and_the_stop_grace_covers_the_drain() -> None:
    compose = _compose()
    node = compose["services"]["grover1"]
    settings = config.load(None, _interpolated(node["environment"]))
    assert settings.mongo_url and settings.redis_url
    needed = settings.drain_seconds + settings.shutdown_grace + STOP_MARGIN
    assert _seconds(node["stop_grace_period"]) >= needed
    # HAProxy marks a draining node down (inter x fall, plus a check in
    # flight) before the drain ends.
    checks = re.search(r"default-server inter (\S+) fall (\d+)", HAPROXY_CFG.read_text())
    assert checks
    assert _seconds(checks[1]) * (int(checks[2]) + 1) < settings.drain_seconds


def test_settings_in_kubernetes_parse_and_the_grace_period_covers_the_drain() -> None:
    manifests = _manifests()
    environ = {**manifests["ConfigMap"]["data"], **manifests["Secret"]["stringData"]}
    settings: Settings = config.load(None, environ)
    assert settings.redis_url and settings.mongo_url
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    needed = settings.drain_seconds + settings.shutdown_grace + STOP_MARGIN
    assert pod["terminationGracePeriodSeconds"] >= needed
    (container,) = pod["containers"]
    readiness = container["readinessProbe"]
    assert readiness["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # The probe sees the drain's 503 well within the drain.
    assert readiness["periodSeconds"] * readiness["failureThreshold"] < settings.drain_seconds
    refs = {next(iter(ref)) for ref in container["envFrom"]}
    assert refs == {"configMapRef", "secretRef"}
    # Placeholders only: nothing that looks like a real credential.
    secret = manifests["Secret"]["stringData"]
    assert all(value == "" or "CHANGE-ME" in value for value in secret.values())
    assert manifests["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    rolling = manifests["Deployment"]["spec"]["strategy"]["rollingUpdate"]
    assert rolling == {"maxSurge": 1, "maxUnavailable": 0}


def test_every_alert_has_a_runbook_entry() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    runbook = (ROOT / "docs" / "operations.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", runbook, re.M)
    }
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 6
    for rule in alerts:
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in anchors, f"no runbook section for {rule['alert']}"
        assert re.search(r"\b(grover_\w+|haproxy_\w+|up)\b", rule["expr"]), rule["alert"]
