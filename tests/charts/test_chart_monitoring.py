"""The chart's optional monitoring objects: off by default; when on, valid against the
Prometheus Operator CRD schemas and carrying the same rules and dashboard files the local
stack and the promtool tests use."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from graph.monitoring import DASHBOARD_FILE, RULES_FILE
from tests.charts.conftest import (
    CHART,
    K8sTools,
    documents,
    render_ok,
    seldon_deployment,
    template,
)

HERE = Path(__file__).resolve().parent
MONITORING_VALUES = HERE / "monitoring-values.yaml"
CRDS = HERE / "crds"
MONITORING_KINDS = {"PodMonitor", "PrometheusRule", "ConfigMap"}


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD schema with unknown fields rejected (as strict field validation does):
    ``additionalProperties: false`` on every object that lists its properties."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)
    return schema


@pytest.fixture(scope="module")
def crd_validators() -> dict[str, jsonschema.Draft7Validator]:
    validators = {}
    for kind in ("PodMonitor", "PrometheusRule"):
        path = CRDS / f"monitoring.coreos.com_{kind.lower()}-v1.schema.json"
        validators[kind] = jsonschema.Draft7Validator(_strict(json.loads(path.read_text())))
    return validators


@pytest.fixture(scope="module")
def rendered(k8s_tools: K8sTools) -> dict[str, dict[str, Any]]:
    docs = documents(render_ok(k8s_tools, values=[MONITORING_VALUES]))
    return {doc["kind"]: doc for doc in docs if doc["kind"] in MONITORING_KINDS}


def _errors(validator: jsonschema.Draft7Validator, doc: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_monitoring_is_off_by_default(k8s_tools: K8sTools) -> None:
    kinds = {doc["kind"] for doc in documents(render_ok(k8s_tools))}
    assert kinds == {"SeldonDeployment"}


def test_helm_lint_is_clean_with_monitoring_on(k8s_tools: K8sTools) -> None:
    done = k8s_tools.run("lint", "--strict", str(CHART), f"--values={MONITORING_VALUES}")
    assert done.returncode == 0 and "[WARNING]" not in done.stdout, done.stdout + done.stderr


def test_monitoring_leaves_the_seldon_deployment_unchanged(k8s_tools: K8sTools) -> None:
    with_monitoring = seldon_deployment(render_ok(k8s_tools, values=[MONITORING_VALUES]))
    assert with_monitoring == seldon_deployment(render_ok(k8s_tools))


def test_monitoring_objects_match_the_prometheus_operator_crds(
    rendered: dict[str, dict[str, Any]], crd_validators: dict[str, jsonschema.Draft7Validator]
) -> None:
    assert set(rendered) == MONITORING_KINDS
    for kind, validator in crd_validators.items():
        assert _errors(validator, rendered[kind]) == [], kind


def test_the_crd_check_rejects_a_misspelt_field(
    rendered: dict[str, dict[str, Any]], crd_validators: dict[str, jsonschema.Draft7Validator]
) -> None:
    monitor = copy.deepcopy(rendered["PodMonitor"])
    monitor["spec"]["podMetricsEndpoints"][0]["paht"] = "/prometheus"
    assert any("paht" in error for error in _errors(crd_validators["PodMonitor"], monitor))
    rule = copy.deepcopy(rendered["PrometheusRule"])
    rule["spec"]["groups"][0]["rules"][0]["for"] = 5  # a duration is a string
    assert _errors(crd_validators["PrometheusRule"], rule)


def test_pod_monitor_scrapes_the_metrics_ports_of_this_deployment(
    rendered: dict[str, dict[str, Any]],
) -> None:
    monitor = rendered["PodMonitor"]
    assert monitor["metadata"]["namespace"] == "seldon"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"] == {"seldon-deployment-id": "digits"}
    # The operator turns the pod label into the target label the node-down rule uses.
    assert "seldon-deployment-id" in monitor["spec"]["podTargetLabels"]
    assert "seldon_deployment_id" in RULES_FILE.read_text()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint == {
        "port": "metrics",
        "path": "/prometheus",
        "interval": "15s",
        "scrapeTimeout": "10s",
    }


def test_prometheus_rule_carries_the_shipped_rule_file(
    rendered: dict[str, dict[str, Any]],
) -> None:
    assert rendered["PrometheusRule"]["spec"] == yaml.safe_load(RULES_FILE.read_text())


def test_dashboard_config_map_carries_the_shipped_dashboard(
    rendered: dict[str, dict[str, Any]],
) -> None:
    config_map = rendered["ConfigMap"]
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Seldon"}
    dashboard = json.loads(config_map["data"]["seldon-graph.json"])
    assert dashboard == json.loads(DASHBOARD_FILE.read_text())


def test_notes_tell_where_the_monitoring_objects_are(k8s_tools: K8sTools) -> None:
    args = ["install", "digits", str(CHART), "--namespace", "seldon", "--dry-run=client"]
    plain = k8s_tools.run(*args)
    assert plain.returncode == 0 and "Monitoring" not in plain.stdout.split("NOTES:", 1)[1]
    done = k8s_tools.run(*args, f"--values={MONITORING_VALUES}")
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert 'up{seldon_deployment_id="digits"}' in notes
    assert "kubectl -n seldon get prometheusrule digits" in notes
    assert "ConfigMap digits-dashboard in monitoring" in notes


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"podMonitor": {"enabled": True, "interval": "15 seconds"}}, "interval"),
        ({"prometheusRule": {"enabled": True, "selector": {}}}, "selector"),
        ({"dashboard": {"enabled": "yes"}}, "enabled"),
    ],
)
def test_bad_monitoring_values_are_rejected(
    k8s_tools: K8sTools, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({"monitoring": values}))
    done = template(k8s_tools, values=[path])
    assert done.returncode != 0 and message in done.stderr, done.stderr
