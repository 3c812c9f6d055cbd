"""Services, Istio and Ambassador objects, compared with the operator's code."""

from __future__ import annotations

from tests.graph.render.conftest import container, node, objects, one_model, predictor, sdep


def canary_with_shadow() -> dict:
    graph = node("m")
    return sdep(
        predictor("main", graph, [container("m")], traffic=70),
        predictor("canary", graph, [container("m")], traffic=30, labels={"version": "v2"}),
        predictor("shadow", graph, [container("m")], traffic=25, shadow=True),
    )


def test_node_service_exposes_the_nodes_http_and_grpc_ports() -> None:
    """seldondeployment_controller.go createContainerService + labels.go addLabelsToService."""
    svc = objects(one_model())["Service/sd-p-m"]
    assert svc["spec"]["selector"] == {"seldon-app-svc-m": "sd-p-m"}
    assert [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
        ("http", 9000, 9000),
        ("grpc", 9500, 9500),
    ]
    assert svc["metadata"]["labels"]["seldon.io/model"] == "true"
    assert svc["metadata"]["labels"]["seldon-app"] == "sd-p"


def test_predictor_service_points_at_the_executor() -> None:
    """createPredictorService: ports 8000/5001 (executor), selector seldon-app; headless
    with seldon.io/headless-svc."""
    doc = one_model()
    svc = objects(doc)["Service/sd-p"]
    assert svc["spec"]["selector"] == {"seldon-app": "sd-p"}
    assert [p["port"] for p in svc["spec"]["ports"]] == [8000, 5001]
    assert "clusterIP" not in svc["spec"]
    doc["spec"]["annotations"] = {"seldon.io/headless-svc": "true"}
    assert objects(doc)["Service/sd-p"]["spec"]["clusterIP"] == "None"


def test_istio_splits_by_weight_and_mirrors_the_shadow() -> None:
    """createIstioResources: one weighted destination per non-shadow predictor on both
    routes, the shadow as mirror with mirrorPercentage = its traffic."""
    rendered = objects(canary_with_shadow())
    rest, grpc = rendered["VirtualService/sd"]["spec"]["http"]
    assert rest["match"][0]["uri"] == {"prefix": "/seldon/ns/sd/"}
    assert [(r["destination"]["subset"], r["weight"]) for r in rest["route"]] == [
        ("main", 70),
        ("canary", 30),
    ]
    assert [r["destination"]["port"]["number"] for r in grpc["route"]] == [5001, 5001]
    assert rest["mirror"] == {
        "host": "sd-shadow.ns.svc.cluster.local",
        "subset": "shadow",
        "port": {"number": 8000},
    }
    assert rest["mirrorPercentage"] == {"value": 25.0}
    assert grpc["match"][0]["headers"] == {"seldon": {"exact": "sd"}, "namespace": {"exact": "ns"}}
    assert rendered["VirtualService/sd"]["spec"]["gateways"] == ["istio-system/seldon-gateway"]
    rule = rendered["DestinationRule/sd-canary"]["spec"]
    assert rule["subsets"] == [{"name": "canary", "labels": {"version": "v2"}}]
    assert "DestinationRule/sd-shadow" in rendered  # the mirror needs its subset too


def test_istio_retries_come_from_annotations() -> None:
    """createIstioResources: seldon.io/istio-retries and -retries-timeout."""
    doc = one_model()
    doc["metadata"]["annotations"] = {"seldon.io/istio-retries": "2"}
    rest, _ = objects(doc)["VirtualService/sd"]["spec"]["http"]
    assert rest["retries"] == {
        "attempts": 2,
        "perTryTimeout": "1s",
        "retryOn": "gateway-error,connect-failure,refused-stream",
    }


def test_ambassador_v2_mappings_weight_all_but_the_first_predictor() -> None:
    """ambassador/v2.go GetV2AmbassadorConfigs/getV2Mapping: REST and gRPC Mappings per
    predictor, weight on all but the first, shadow flag, rest-timeout as timeout_ms."""
    doc = canary_with_shadow()
    doc["metadata"]["annotations"] = {"seldon.io/rest-timeout": "5000"}
    rendered = objects(doc, ingress="ambassador")
    assert not any(k.startswith(("VirtualService/", "DestinationRule/")) for k in rendered)
    main = rendered["Mapping/seldon-ns-sd-main-rest"]["spec"]
    assert main["prefix"] == "/seldon/ns/sd/" and "weight" not in main
    assert main["service"] == "sd-main.ns:8000" and main["timeout_ms"] == 5000
    assert rendered["Mapping/seldon-ns-sd-canary-grpc"]["spec"]["weight"] == 30
    shadow = rendered["Mapping/seldon-ns-sd-shadow-rest"]["spec"]
    assert shadow["shadow"] is True and shadow["weight"] == 25


def test_ambassador_single_namespace_adds_the_underscore_named_mappings() -> None:
    """getV2Mapping without addNamespace names the REST Mapping seldon_<sdep>_<p>_rest_mapping
    (AMBASSADOR_SINGLE_NAMESPACE=true adds these)."""
    rendered = objects(one_model(), ingress="ambassador", ambassador_single_namespace=True)
    assert "Mapping/seldon_sd_p_rest_mapping" in rendered
    assert rendered["Mapping/seldon_sd_p_rest_mapping"]["spec"]["prefix"] == "/seldon/sd/"


def test_no_ingress_renders_no_ingress_objects() -> None:
    kinds = {key.split("/")[0] for key in objects(one_model(), ingress="none")}
    assert kinds == {"Service", "Deployment"}
