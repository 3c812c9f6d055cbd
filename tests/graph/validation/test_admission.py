"""The operator admission rules (graph.validation: admission, nodes, traffic) on in-memory
documents."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from graph.manifest import Finding
from graph.validation import webhook_findings
from graph.validation.traffic import TRAFFIC_SUM_PATH
from model.errors import ManifestError

G = "spec.predictors[0].graph"


def _deployment(*predictors: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "demo", "namespace": "models"},
        "spec": {"predictors": list(predictors), **spec},
    }


def _predictor(name: str = "main", graph: dict | None = None, **extra: Any) -> dict[str, Any]:
    """A predictor with one custom model node ``model`` and its container."""
    return {
        "name": name,
        "componentSpecs": [{"spec": {"containers": [{"name": "model", "image": "img:1"}]}}],
        "graph": graph if graph is not None else {"name": "model", "type": "MODEL"},
        **extra,
    }


def _prepack(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "implementation": "SKLEARN_SERVER", "modelUri": "gs://b/m", **extra}


def paths(doc: Any, **kwargs: Any) -> set[str]:
    return {f.path for f in webhook_findings(doc, **kwargs)}


def test_a_minimal_custom_model_deployment_is_accepted() -> None:
    assert webhook_findings(_deployment(_predictor())) == []


@pytest.mark.parametrize("version", ["v1", "v1alpha2", "v1alpha3"])
def test_the_operator_api_versions_are_accepted(version: str) -> None:
    doc = _deployment(_predictor())
    doc["apiVersion"] = f"machinelearning.seldon.io/{version}"
    assert webhook_findings(doc) == []


def test_wrong_api_version_kind_and_name_are_each_reported() -> None:
    doc = _deployment(_predictor())
    doc.update(apiVersion="apps/v1", kind="Deployment")
    doc["metadata"] = {"name": "Demo_Model", "namespace": "Bad_NS"}
    assert paths(doc) == {"apiVersion", "kind", "metadata.name", "metadata.namespace"}


def test_metadata_name_is_required_unless_generate_name_is_given() -> None:
    doc = _deployment(_predictor())
    doc["metadata"] = {}
    assert paths(doc) == {"metadata.name"}
    doc["metadata"] = {"generateName": "demo-"}
    assert paths(doc) == set()


def test_a_document_that_is_not_a_mapping_is_one_finding() -> None:
    assert webhook_findings(["not", "a", "deployment"]) == [
        Finding("", "a SeldonDeployment must be a mapping, not list")
    ]


def test_at_least_one_predictor_is_required() -> None:
    assert paths(_deployment()) == {"spec.predictors"}


def test_duplicate_predictor_names_point_at_the_second() -> None:
    doc = _deployment(_predictor(traffic=50), _predictor(traffic=50))
    found = webhook_findings(doc)
    assert [f.path for f in found] == ["spec.predictors[1].name"]
    assert "duplicate predictor name 'main'" in found[0].message


@pytest.mark.parametrize(("weights", "ok"), [((75, 25), True), ((90, 20), False), ((0, 0), False)])
def test_live_predictors_traffic_must_sum_to_100(weights: tuple[int, int], ok: bool) -> None:
    doc = _deployment(_predictor("a", traffic=weights[0]), _predictor("b", traffic=weights[1]))
    assert paths(doc) == (set() if ok else {TRAFFIC_SUM_PATH})


@pytest.mark.parametrize(("traffic", "ok"), [(None, True), (0, True), (100, True), (50, False)])
def test_a_single_predictor_takes_all_traffic(traffic: int | None, ok: bool) -> None:
    pred = _predictor() if traffic is None else _predictor(traffic=traffic)
    assert paths(_deployment(pred)) == (set() if ok else {"spec.predictors[0].traffic"})


@pytest.mark.parametrize("traffic", [-1, 101, "50", 12.5, True])
def test_traffic_must_be_an_integer_within_0_and_100(traffic: Any) -> None:
    doc = _deployment(_predictor("a", traffic=traffic), _predictor("b", traffic=100))
    assert "spec.predictors[0].traffic" in paths(doc)


def test_a_shadow_mirrors_a_live_predictor_with_its_own_weight() -> None:
    doc = _deployment(_predictor("live", traffic=100), _predictor("copy", shadow=True, traffic=40))
    assert webhook_findings(doc) == []


def test_shadow_traffic_above_100_is_rejected() -> None:
    doc = _deployment(_predictor("live"), _predictor("copy", shadow=True, traffic=150))
    assert paths(doc) == {"spec.predictors[1].traffic"}


def test_only_one_shadow_is_allowed_and_never_alone() -> None:
    two = _deployment(_predictor("a"), _predictor("b", shadow=True), _predictor("c", shadow=True))
    assert paths(two) == {"spec.predictors[2].shadow"}
    alone = _deployment(_predictor("a", shadow=True))
    assert paths(alone) == {"spec.predictors[0].shadow"}


def test_node_names_are_unique_within_a_graph_but_not_across_predictors() -> None:
    graph = {"name": "model", "type": "MODEL", "children": [{"name": "model", "type": "MODEL"}]}
    assert paths(_deployment(_predictor(graph=graph))) == {f"{G}.children[0].name"}
    doc = _deployment(_predictor("a", traffic=50), _predictor("b", traffic=50))
    assert webhook_findings(doc) == []


def test_node_names_must_be_container_names() -> None:
    doc = _deployment(_predictor(graph=_prepack("My_Model")))
    assert paths(doc) == {f"{G}.name"}


def test_bad_node_type_methods_endpoint_and_logger_mode_are_all_reported() -> None:
    graph = {
        "name": "model",
        "type": "PREDICTOR",
        "methods": ["TRANSFORM_INPUT", "PREDICT"],
        "endpoint": {"type": "HTTP"},
        "logger": {"mode": "some"},
    }
    assert paths(_deployment(_predictor(graph=graph))) == {
        f"{G}.type",
        f"{G}.methods[1]",
        f"{G}.endpoint.type",
        f"{G}.logger.mode",
    }


def test_a_logger_needs_a_mode() -> None:
    graph = {"name": "model", "type": "MODEL", "logger": {"url": "http://sink"}}
    assert paths(_deployment(_predictor(graph=graph))) == {f"{G}.logger.mode"}


def test_spec_protocol_transport_and_server_type_have_allowed_values() -> None:
    doc = _deployment(_predictor(), protocol="http", transport="tcp", serverType="batch")
    assert paths(doc) == {"spec.protocol", "spec.transport", "spec.serverType"}


def test_a_node_without_implementation_needs_its_container() -> None:
    graph = {"name": "model", "type": "MODEL", "children": [{"name": "scorer", "type": "MODEL"}]}
    found = webhook_findings(_deployment(_predictor(graph=graph)))
    assert [f.path for f in found] == [f"{G}.children[0]"]
    assert "no container named 'scorer'" in found[0].message


def test_a_container_the_graph_does_not_name_is_accepted() -> None:
    pred = _predictor()
    pred["componentSpecs"][0]["spec"]["containers"].append({"name": "sidecar", "image": "x:1"})
    assert webhook_findings(_deployment(pred)) == []


def test_an_unknown_type_node_must_list_its_methods() -> None:
    graph: dict[str, Any] = {"name": "model", "type": "UNKNOWN_TYPE"}
    assert paths(_deployment(_predictor(graph=graph))) == {f"{G}.methods"}
    graph["methods"] = ["TRANSFORM_INPUT"]
    assert paths(_deployment(_predictor(graph=graph))) == set()


def test_prepackaged_servers_need_a_model_uri_except_huggingface() -> None:
    graph = {"name": "model", "implementation": "SKLEARN_SERVER"}
    assert paths(_deployment(_predictor(graph=graph))) == {f"{G}.modelUri"}
    graph["implementation"] = "HUGGINGFACE_SERVER"
    assert paths(_deployment(_predictor(graph=graph))) == set()


def test_sklearn_server_cannot_serve_the_tensorflow_protocol() -> None:
    doc = _deployment(_predictor(graph=_prepack("model")), protocol="tensorflow")
    assert paths(doc) == {f"{G}.implementation"}


def test_an_unknown_implementation_is_rejected_unless_declared_or_given_an_image() -> None:
    graph = {"name": "other", "implementation": "LIGHTGBM_SERVER", "modelUri": "gs://b/m"}
    doc = _deployment(_predictor(graph=graph))
    assert paths(doc) == {f"{G}.implementation"}
    assert paths(doc, servers=["LIGHTGBM_SERVER"]) == set()
    graph["name"] = "model"  # the predictor has a container "model" with an image
    assert paths(doc) == set()


@pytest.mark.parametrize(
    ("ptype", "value", "ok"),
    [
        ("INT", "42", True),
        ("INT", "4.2", False),
        ("FLOAT", "0.5", True),
        ("FLOAT", "half", False),
        ("DOUBLE", "-1e-3", True),
        ("DOUBLE", "", False),
        ("BOOL", "True", True),
        ("BOOL", "0", True),
        ("BOOL", "maybe", False),
        ("STRING", "anything at all", True),
    ],
)
def test_parameter_values_must_parse_as_their_type(ptype: str, value: str, ok: bool) -> None:
    graph = {"name": "model", "parameters": [{"name": "p", "type": ptype, "value": value}]}
    found = paths(_deployment(_predictor(graph=graph)))
    assert found == (set() if ok else {f"{G}.parameters[0].value"})


def test_parameter_type_names_unquoted_values_and_duplicates_are_reported() -> None:
    graph = {
        "name": "model",
        "parameters": [
            {"name": "a", "type": "LONG", "value": "1"},
            {"name": "b", "type": "INT", "value": 7},
            {"name": "b", "type": "STRING", "value": "x"},
        ],
    }
    assert paths(_deployment(_predictor(graph=graph))) == {
        f"{G}.parameters[0].type",
        f"{G}.parameters[1].value",
        f"{G}.parameters[2].name",
    }


def _abtest(parameters: list[dict[str, Any]], children: int = 2) -> dict[str, Any]:
    return {
        "name": "split",
        "implementation": "RANDOM_ABTEST",
        "parameters": parameters,
        "children": [_prepack(f"model-{i}") for i in range(children)],
    }


def test_random_abtest_with_two_children_and_ratio_a_is_accepted() -> None:
    graph = _abtest([{"name": "ratioA", "type": "FLOAT", "value": "0.25"}])
    assert webhook_findings(_deployment(_predictor(graph=graph))) == []


@pytest.mark.parametrize(
    ("parameters", "children", "bad"),
    [
        ([{"name": "ratioA", "type": "FLOAT", "value": "0.5"}], 3, f"{G}.children"),
        ([], 2, f"{G}.parameters"),
        ([{"name": "ratioA", "type": "STRING", "value": "0.5"}], 2, f"{G}.parameters[0].type"),
        ([{"name": "ratioA", "type": "FLOAT", "value": "1.5"}], 2, f"{G}.parameters[0].value"),
        (
            [
                {"name": "seed", "type": "INT", "value": "1"},
                {"name": "ratioA", "type": "FLOAT", "value": "0.5"},
            ],
            2,
            f"{G}.parameters",
        ),
    ],
)
def test_random_abtest_rules(parameters: list, children: int, bad: str) -> None:
    assert paths(_deployment(_predictor(graph=_abtest(parameters, children)))) == {bad}


@pytest.mark.parametrize("kind", [{"type": "ROUTER"}, {"implementation": "AVERAGE_COMBINER"}])
def test_routers_and_combiners_need_children(kind: dict[str, str]) -> None:
    graph = {"name": "model", **kind}
    assert f"{G}.children" in paths(_deployment(_predictor(graph=graph)))


def test_one_endpoint_type_per_deployment_and_it_matches_spec_transport() -> None:
    graph = _prepack("a", endpoint={"type": "REST"})
    graph["children"] = [_prepack("b", endpoint={"type": "GRPC"})]
    assert paths(_deployment(_predictor(graph=graph))) == {f"{G}.children[0].endpoint.type"}
    doc = _deployment(_predictor(graph=_prepack("a", endpoint={"type": "REST"})), transport="grpc")
    assert paths(doc) == {f"{G}.endpoint.type"}


def test_no_engine_annotation_needs_a_one_node_graph() -> None:
    graph = _prepack("a", children=[_prepack("b")])
    pred = _predictor(graph=graph, annotations={"seldon.io/no-engine": "true"})
    assert paths(_deployment(pred)) == {"spec.predictors[0].annotations.seldon.io/no-engine"}


def test_custom_service_names_are_unique() -> None:
    notes = {"seldon.io/svc-name": "scorer"}
    doc = _deployment(
        _predictor("a", traffic=50, annotations=notes),
        _predictor("b", traffic=50, annotations=notes),
    )
    assert paths(doc) == {"spec.predictors[1].annotations.seldon.io/svc-name"}


def test_every_rule_runs_instead_of_stopping_at_the_first() -> None:
    bad = _predictor("a", traffic=10, graph={"name": "model", "type": "NOPE"})
    doc = _deployment(bad, copy.deepcopy(bad))
    doc["kind"] = "Pod"
    assert paths(doc) == {
        "kind",
        "spec.predictors[0].graph.type",
        "spec.predictors[1].name",
        "spec.predictors[1].graph.type",
        TRAFFIC_SUM_PATH,
    }


def test_a_finding_converts_to_a_manifest_error_with_its_path() -> None:
    error = Finding("spec.predictors[0].traffic", "must be an integer").to_error()
    assert isinstance(error, ManifestError)
    assert error.path == "spec.predictors[0].traffic"
    assert str(error) == "spec.predictors[0].traffic: must be an integer"
