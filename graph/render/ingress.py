"""The ingress objects the operator creates for the traffic split: Istio's VirtualService
and DestinationRules (``createIstioResources`` in
``operator/controllers/seldondeployment_controller.go``) or Ambassador v2 Mappings
(``GetV2AmbassadorConfigs`` in ``operator/controllers/ambassador/v2.go``)."""

from __future__ import annotations

from typing import Any

from graph.render.defaulting import annotation
from graph.render.names import predictor_key
from graph.render.options import RenderOptions

ISTIO_API = "networking.istio.io/v1alpha3"
AMBASSADOR_API = "getambassador.io/v2"
GRPC_MATCH_ISTIO = ".*tensorflow.*|.*seldon.protos.*|.*inference.*"
GRPC_MATCH_AMBASSADOR = "/(seldon.protos.*|tensorflow.serving.*|inference.*)/.*"
AMBASSADOR_IDLE_TIMEOUT_MS = 300000


def _fqdn(sdep: dict[str, Any], predictor: dict[str, Any]) -> str:
    key = predictor_key(sdep["metadata"]["name"], predictor)
    return f"{key}.{sdep['metadata']['namespace']}.svc.cluster.local"


def _destination(sdep: dict[str, Any], predictor: dict[str, Any], port: int) -> dict[str, Any]:
    return {"host": _fqdn(sdep, predictor), "subset": predictor["name"], "port": {"number": port}}


def _destination_rule(
    sdep: dict[str, Any], predictor: dict[str, Any], tls_mode: str
) -> dict[str, Any]:
    policy: dict[str, Any] = {"connectionPool": {"http": {"idleTimeout": "60s"}}}
    if tls_mode:
        policy = {"tls": {"mode": tls_mode}}
    return {
        "apiVersion": ISTIO_API,
        "kind": "DestinationRule",
        "metadata": {
            "name": predictor_key(sdep["metadata"]["name"], predictor),
            "namespace": sdep["metadata"]["namespace"],
        },
        "spec": {
            "host": _fqdn(sdep, predictor),
            "subsets": [
                {"name": predictor["name"], "labels": {"version": predictor["labels"]["version"]}}
            ],
            "trafficPolicy": policy,
        },
    }


def _retries(sdep: dict[str, Any]) -> dict[str, Any] | None:
    attempts = int(annotation(sdep, "seldon.io/istio-retries", "") or 0)
    if attempts <= 0:
        return None
    per_try = int(annotation(sdep, "seldon.io/istio-retries-timeout", "1"))
    return {
        "attempts": attempts,
        "perTryTimeout": f"{per_try}s",
        "retryOn": "gateway-error,connect-failure,refused-stream",
    }


def istio(
    sdep: dict[str, Any], seldon_id: str, ports: tuple[int, int], options: RenderOptions
) -> list[dict[str, Any]]:
    """One VirtualService (REST prefix route and gRPC header route, one weighted
    destination per non-shadow predictor, a mirror for the shadow) and one
    DestinationRule per predictor. No timeout: the Istio route gets none from the
    seldon.io/*-timeout annotations."""
    name, namespace = sdep["metadata"]["name"], sdep["metadata"]["namespace"]
    rest: dict[str, Any] = {
        "match": [{"uri": {"prefix": f"/seldon/{namespace}/{name}/"}}],
        "rewrite": {"uri": "/"},
    }
    grpc: dict[str, Any] = {
        "match": [
            {
                "uri": {"regex": GRPC_MATCH_ISTIO},
                "headers": {"seldon": {"exact": name}, "namespace": {"exact": namespace}},
            }
        ]
    }
    if (retries := _retries(sdep)) is not None:
        rest["retries"], grpc["retries"] = retries, dict(retries)
    rest["route"], grpc["route"] = [], []
    for predictor in sdep["spec"]["predictors"]:
        traffic = int(predictor.get("traffic") or 0)
        if predictor.get("shadow") is True:
            rest["mirror"] = _destination(sdep, predictor, ports[0])
            grpc["mirror"] = _destination(sdep, predictor, ports[1])
            if traffic > 0:
                rest["mirrorPercentage"] = {"value": float(traffic)}
                grpc["mirrorPercentage"] = {"value": float(traffic)}
            continue
        rest["route"].append(
            {"destination": _destination(sdep, predictor, ports[0]), "weight": traffic}
        )
        grpc["route"].append(
            {"destination": _destination(sdep, predictor, ports[1]), "weight": traffic}
        )
    service = {
        "apiVersion": ISTIO_API,
        "kind": "VirtualService",
        "metadata": {"name": seldon_id, "namespace": namespace},
        "spec": {
            "hosts": [annotation(sdep, "seldon.io/istio-host", "*")],
            "gateways": [annotation(sdep, "seldon.io/istio-gateway", options.istio_gateway)],
            "http": [rest, grpc],
        },
    }
    rules = [_destination_rule(sdep, p, options.istio_tls_mode) for p in sdep["spec"]["predictors"]]
    return [service, *rules]


def _route(
    sdep: dict[str, Any], predictor: dict[str, Any], rest: bool, port: int, global_: bool
) -> tuple[str, dict[str, Any]]:
    """The Mapping's name and routing fields; ``global_`` is the operator's
    ``addNamespace`` form (the only one without AMBASSADOR_SINGLE_NAMESPACE)."""
    name, namespace, core = (
        sdep["metadata"]["name"],
        sdep["metadata"]["namespace"],
        predictor["name"],
    )
    external = annotation(sdep, "seldon.io/ambassador-service-name", name)
    service = f"{predictor_key(name, predictor)}.{namespace}:{port}"
    if rest:
        object_name = f"seldon-{namespace}-{name}-{core}-rest"
        prefix = f"/seldon/{namespace}/{external}/"
        if not global_:
            object_name, prefix = f"seldon_{name}_{core}_rest_mapping", f"/seldon/{external}/"
        return object_name, {
            "cluster_tag": "seldon_http", "prefix": prefix, "rewrite": "/", "service": service,
        }  # fmt: skip
    object_name = (
        f"seldon-{namespace}-{name}-{core}-grpc" if global_ else f"seldon-{name}-{core}-grpc"
    )
    return object_name, {
        "cluster_tag": "seldon_grpc", "prefix": GRPC_MATCH_AMBASSADOR, "grpc": True,
        "prefix_regex": True, "rewrite": "", "headers": {"seldon": external}, "service": service,
    }  # fmt: skip


def _mapping(
    sdep: dict[str, Any],
    seldon_id: str,
    predictor: dict[str, Any],
    rest: bool,
    port: int,
    global_: bool,
) -> dict[str, Any]:
    """``getV2Mapping``: the route plus timeout, retries, weight and shadow."""
    object_name, spec = _route(sdep, predictor, rest, port, global_)
    timeout = int(annotation(sdep, "seldon.io/rest-timeout", "3000"))
    spec["timeout_ms"] = timeout
    if retries := int(annotation(sdep, "seldon.io/ambassador-retries", "0")):
        spec["retry_policy"] = {"retry_on": "gateway-error", "num_retries": retries}
    shadow = predictor.get("shadow") is True
    if shadow or sdep["spec"]["predictors"][0]["name"] != predictor["name"]:
        spec["weight"] = int(predictor.get("traffic") or 0)
    if timeout > AMBASSADOR_IDLE_TIMEOUT_MS:
        spec["idle_timeout_ms"] = timeout
    if shadow:
        spec["shadow"] = True
    if ambassador_id := annotation(sdep, "seldon.io/ambassador-id", ""):
        spec["ambassador_id"] = [ambassador_id]
    labels = {"seldon-deployment-id": seldon_id}
    metadata = {"name": object_name, "namespace": sdep["metadata"]["namespace"], "labels": labels}
    return {"apiVersion": AMBASSADOR_API, "kind": "Mapping", "metadata": metadata, "spec": spec}


def ambassador(
    sdep: dict[str, Any],
    seldon_id: str,
    predictor: dict[str, Any],
    ports: tuple[int, int],
    options: RenderOptions,
) -> list[dict[str, Any]]:
    """The REST and gRPC Mappings of one predictor (and the namespaced pair with
    AMBASSADOR_SINGLE_NAMESPACE). Circuit breakers, custom headers and TLS contexts are
    not rendered."""
    forms = (True, False) if options.ambassador_single_namespace else (True,)
    return [
        _mapping(sdep, seldon_id, predictor, rest, ports[0] if rest else ports[1], global_)
        for global_ in forms
        for rest in (True, False)
    ]
