"""Errors are what the 1.17.1 operator's webhook (operator/apis/machinelearning.seldon.io/v1/
seldondeployment_webhook.go) or Kubernetes refuses; this project's stricter rules are
warnings, errors only with ``--strict``. Each test names the Go function it mirrors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from graph.manifest import Finding
from graph.validation import validate_file, webhook_findings

MANIFESTS = Path(__file__).parent / "manifests"
CLI = Path(sys.executable).parent / "seldon-graph"
G = "spec.predictors[0].graph"
KAFKA = ("KAFKA_BROKER", "KAFKA_INPUT_TOPIC", "KAFKA_OUTPUT_TOPIC")
# Each manifest the operator accepts but this project warns about, and the warnings' paths.
WARNING = {
    "abtest-without-ratio.yaml": {f"{G}.parameters"},
    "bad-node-type.yaml": {f"{G}.children[0].type"},
    "bad-parameter-value.yaml": {f"{G}.parameters[1].value"},
}


def _sdep(*predictors: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "demo"},
        "spec": {"predictors": list(predictors), **spec},
    }


def _pred(name: str = "main", graph: dict | None = None, **extra: Any) -> dict[str, Any]:
    node = {"name": name, "implementation": "SKLEARN_SERVER", "modelUri": "gs://b/m"}
    return {"name": name, "graph": graph or node, **extra}


def _split(found: list[Finding]) -> tuple[set[str], set[str]]:
    """(error paths, warning paths)."""
    return {f.path for f in found if not f.is_warning}, {f.path for f in found if f.is_warning}


def test_kafka_needs_the_broker_and_both_topics() -> None:
    """validateKafka: serverType kafka without all three svcOrchSpec envs is refused."""
    some = {"env": [{"name": "KAFKA_BROKER", "value": "b:9092"}]}
    found = webhook_findings(_sdep(_pred(svcOrchSpec=some), serverType="kafka"))
    assert _split(found) == ({"spec.predictors[0].svcOrchSpec.env"}, set())
    every = {"env": [{"name": n, "value": "x"} for n in KAFKA]}
    assert webhook_findings(_sdep(_pred(svcOrchSpec=every), serverType="kafka")) == []
    assert webhook_findings(_sdep(_pred(svcOrchSpec=some), serverType="rpc")) == []


def test_no_engine_is_refused_for_a_larger_graph_whatever_its_value() -> None:
    """ValidateSeldonDeployment: the seldon.io/no-engine annotation's presence counts."""
    child = {"name": "m", "implementation": "SKLEARN_SERVER", "modelUri": "gs://b/m"}
    graph = {**child, "name": "top", "children": [child]}
    pred = _pred(graph=graph, annotations={"seldon.io/no-engine": "false"})
    errors, _ = _split(webhook_findings(_sdep(pred)))
    assert errors == {"spec.predictors[0].annotations.seldon.io/no-engine"}


@pytest.mark.parametrize(
    ("traffic", "errors", "warnings"),
    [(50, {"spec.predictors[0].traffic"}, set()), (150, set(), {"spec.predictors[0].traffic"})],
)
def test_a_lone_predictor_is_refused_between_1_and_99_only(
    traffic: int, errors: set[str], warnings: set[str]
) -> None:
    """checkTraffic: "Traffic must sum be 100 for a single predictor when set" (0 < sum < 100)."""
    assert _split(webhook_findings(_sdep(_pred(traffic=traffic)))) == (errors, warnings)


def test_a_shadows_traffic_range_is_the_operators_a_live_ones_ours() -> None:
    """checkTraffic: "shadow traffic is illegal" outside 0..100; a live predictor's own
    range is our rule (the sum of several is the operator's)."""
    shadow = _sdep(_pred("a", traffic=100), _pred("b", traffic=150, shadow=True))
    assert _split(webhook_findings(shadow)) == ({"spec.predictors[1].traffic"}, set())
    live = _sdep(_pred("a", traffic=150), _pred("b", traffic=-50))
    assert _split(webhook_findings(live)) == (
        set(),
        {"spec.predictors[0].traffic", "spec.predictors[1].traffic"},
    )


def test_a_live_predictor_beside_a_shadow_may_take_less_than_all_for_the_operator() -> None:
    """checkTraffic counts len(spec.Predictors) == 1, so a shadow lifts the rule: ours warns."""
    found = webhook_findings(_sdep(_pred("a", traffic=50), _pred("b", traffic=10, shadow=True)))
    assert _split(found) == (set(), {"spec.predictors[0].traffic"})


def test_a_logger_without_mode_is_refused_an_unknown_mode_warned() -> None:
    """checkPredictiveUnits: "No logger mode specified"; the mode's values are ours."""
    node = {"name": "m", "implementation": "SKLEARN_SERVER", "modelUri": "gs://b/m"}
    missing = _sdep(_pred(graph={**node, "logger": {"url": "http://sink"}}))
    assert _split(webhook_findings(missing)) == ({f"{G}.logger.mode"}, set())
    odd = _sdep(_pred(graph={**node, "logger": {"mode": "everything"}}))
    assert _split(webhook_findings(odd)) == (set(), {f"{G}.logger.mode"})


def test_only_rest_and_grpc_can_contradict_spec_transport() -> None:
    """ValidateSeldonDeployment (collectTransports): "Mixed transport types" compares the
    REST and GRPC constants only; another value is our warning."""
    node = {"name": "m", "implementation": "SKLEARN_SERVER", "modelUri": "gs://b/m"}
    grpc = _sdep(_pred(graph={**node, "endpoint": {"type": "GRPC"}}), transport="rest")
    assert _split(webhook_findings(grpc)) == ({f"{G}.endpoint.type"}, set())
    http = _sdep(_pred(graph={**node, "endpoint": {"type": "HTTP"}}), transport="rest")
    assert _split(webhook_findings(http)) == (set(), {f"{G}.endpoint.type"})


def test_a_node_type_method_and_router_shape_are_our_rules() -> None:
    """checkPredictiveUnits checks no type, method or children count: all warnings."""
    graph = {"name": "r", "type": "ROUTER", "implementation": "SIMPLE_ROUTER"}
    router = _sdep(_pred(graph=graph, componentSpecs=[]))
    assert _split(webhook_findings(router)) == (set(), {f"{G}.children"})


@pytest.mark.parametrize("name", sorted(WARNING))
def test_warned_manifests_are_valid_unless_strict(name: str) -> None:
    """The operator admits them (no rule in ValidateSeldonDeployment); --strict refuses."""
    path = str(MANIFESTS / "warning" / name)
    report = validate_file(path, None)
    assert report.valid
    assert {w.path for d in report.documents for w in d.warnings} >= WARNING[name]
    assert not validate_file(path, None, strict=True).valid


def test_every_warned_manifest_has_an_expectation() -> None:
    assert {p.name for p in (MANIFESTS / "warning").iterdir()} == set(WARNING)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "validate", *args], capture_output=True, text=True)


def test_the_cli_prints_warnings_and_exits_0_or_1_with_strict() -> None:
    path = str(MANIFESTS / "warning" / "bad-node-type.yaml")
    lenient, strict = _cli(path), _cli("--strict", path)
    line = f"{path}: {G}.children[0].type: warning: 'PREDICTOR' is not a valid node type"
    assert lenient.returncode == 0 and lenient.stdout.startswith(line)
    assert f"{path}: valid" in lenient.stdout
    assert strict.returncode == 1 and strict.stdout.startswith(line)
    assert f"{path}: valid" not in strict.stdout


def test_other_kinds_are_checked_by_kubernetes_or_skipped_by_name() -> None:
    """A Namespace, ServiceAccount and Secret pass the Kubernetes 1.28 schemas; Istio's
    VirtualService has none and is reported as skipped, naming kind and name."""
    path = str(MANIFESTS / "valid" / "with-other-kinds.yaml")
    done = _cli(path)
    assert done.returncode == 0, done.stdout
    skipped = [line for line in done.stdout.splitlines() if ": skipped: " in line]
    assert skipped == [
        f"{path}:doc 4: skipped: VirtualService/digits-extra-route "
        "(not a SeldonDeployment, and no Kubernetes schema for its kind)"
    ]


def test_a_refused_core_kind_fails_the_file() -> None:
    """The API server's strict schema and name rules (graph/render/checks.py)."""
    done = _cli(str(MANIFESTS / "invalid" / "bad-core-kinds.yaml"))
    assert done.returncode == 1
    assert "'spec' was unexpected" in done.stdout
    assert "invalid value 'Model_Reader'" in done.stdout
