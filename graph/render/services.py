"""The Services the operator creates: one per graph node's container and one per
predictor (``createContainerService``, ``createPredictorService`` and
``addLabelsToService`` in ``operator/controllers/seldondeployment_controller.go`` and
``labels.go``)."""

from __future__ import annotations

from typing import Any

from graph.render.defaulting import annotation
from graph.render.names import container_service_name, predictor_key

MANAGED_BY = ("app.kubernetes.io/managed-by", "seldon-core")
TYPE_LABELS = {
    "ROUTER": "seldon.io/router",
    "COMBINER": "seldon.io/combiner",
    "MODEL": "seldon.io/model",
    "TRANSFORMER": "seldon.io/transformer",
    "OUTPUT_TRANSFORMER": "seldon.io/output-transformer",
}
SHADOW_LABEL = "seldon.io/shadow"
HEADLESS = "seldon.io/headless-svc"


def type_labels(node: dict[str, Any] | None, predictor: dict[str, Any]) -> dict[str, str]:
    """The labels a node's objects get for its type, shadow and managed-by."""
    labels = {}
    if node is not None and node.get("type") in TYPE_LABELS:
        labels[TYPE_LABELS[node["type"]]] = "true"
    elif node is None and (predictor.get("explainer") or {}).get("type"):
        labels["seldon.io/explainer"] = "true"
    if predictor.get("shadow") is True:
        labels[SHADOW_LABEL] = "true"
    labels[MANAGED_BY[0]] = MANAGED_BY[1]
    return labels


def _port(name: str, number: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": number, "targetPort": number, "name": name}


def service_label_key(container_name: str) -> str:
    """The selector label of a node's Service: ``seldon-app-svc-<container>``."""
    return f"seldon-app-svc-{container_name}"


def node_service(
    sdep: dict[str, Any], seldon_id: str, predictor: dict[str, Any], node: dict[str, Any]
) -> dict[str, Any]:
    """The Service in front of one node's container: its HTTP and gRPC ports."""
    name = sdep["metadata"]["name"]
    svc = container_service_name(name, predictor["name"], node["name"])
    key = service_label_key(node["name"])
    endpoint = node["endpoint"]
    labels = {
        key: svc,
        "seldon-deployment-id": seldon_id,
        "seldon-app": predictor_key(name, predictor),
    }
    labels.update(type_labels(node, predictor))
    return _service(
        sdep,
        svc,
        labels,
        dict(predictor.get("annotations") or {}),
        {
            "ports": [_port("http", endpoint["httpPort"]), _port("grpc", endpoint["grpcPort"])],
            "type": "ClusterIP",
            "selector": {key: svc},
            "sessionAffinity": "None",
        },
    )


def predictor_service(
    sdep: dict[str, Any], seldon_id: str, predictor: dict[str, Any], ports: tuple[int, int]
) -> dict[str, Any]:
    """The predictor's Service in front of the executor: what the ingress routes to."""
    key = predictor_key(sdep["metadata"]["name"], predictor)
    spec: dict[str, Any] = {
        "selector": {"seldon-app": key},
        "sessionAffinity": "None",
        "type": "ClusterIP",
        "ports": [_port("http", ports[0]), _port("grpc", ports[1])],
    }
    if annotation(sdep, HEADLESS, "false") != "false":
        spec["clusterIP"] = "None"
    labels = {"seldon-app": key, "seldon-deployment-id": seldon_id, MANAGED_BY[0]: MANAGED_BY[1]}
    return _service(sdep, key, labels, dict(predictor.get("annotations") or {}), spec)


def _service(
    sdep: dict[str, Any],
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    spec: dict[str, Any],
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": sdep["metadata"]["namespace"],
        "labels": labels,
    }
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}
