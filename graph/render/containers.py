"""What the operator adds to each graph node's container while it creates the node's
Service (``createContainerService``, ``addPortEnvs``, ``addModelEnvs`` in
``operator/controllers/seldondeployment_controller.go``)."""

from __future__ import annotations

import json
from typing import Any

from graph.render.options import RenderOptions

MODEL_DIR = "/mnt/models"  # DefaultModelLocalMountPath, model_initializer_injector.go


def _has_env(container: dict[str, Any], name: str) -> bool:
    return any(e.get("name") == name for e in container.get("env") or ())


def set_env_keep(container: dict[str, Any], name: str, value: str) -> None:
    """``utils.SetEnvVar(env, var, override=false)`` in ``operator/utils/utils.go``.

    Adds ``name`` when the container lacks it. When the container already has it the Go
    function returns a nil slice, so the container loses its *whole* env list (the
    operator then appends its own variables to the empty list). Rendered as the operator
    does it; ``checks.py`` reports it.
    """
    if _has_env(container, name):
        container["env"] = []
        return
    container.setdefault("env", []).append({"name": name, "value": value})


def _append_env(container: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    container.setdefault("env", []).extend({"name": n, "value": v} for n, v in pairs)


def _tcp_probe(port: int, initial_delay: int) -> dict[str, Any]:
    return {
        "tcpSocket": {"port": port},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 3,
        "timeoutSeconds": 1,
    }


def uses_grpc(spec: dict[str, Any], node: dict[str, Any]) -> bool:
    """The operator's "talk gRPC to this node" test: ``spec.transport: grpc`` or the
    node's ``endpoint.type: GRPC``."""
    return spec.get("transport") == "grpc" or (node.get("endpoint") or {}).get("type") == "GRPC"


def add_ports_and_probes(spec: dict[str, Any], node: dict[str, Any], c: dict[str, Any]) -> None:
    """``http``/``grpc`` container ports when missing; TCP liveness (60 s) and readiness
    (20 s) probes on the gRPC port when gRPC is used, else the HTTP port, unless the
    container has its own; a ``preStop`` sleep of 10 s unless it has a lifecycle."""
    endpoint = node["endpoint"]
    names = {p.get("name") for p in c.get("ports") or ()}
    if "http" not in names or not c.get("ports"):
        c.setdefault("ports", []).append(
            {"name": "http", "containerPort": endpoint["httpPort"], "protocol": "TCP"}
        )
    if "grpc" not in names:
        c["ports"].append(
            {"name": "grpc", "containerPort": endpoint["grpcPort"], "protocol": "TCP"}
        )
    port = endpoint["grpcPort"] if uses_grpc(spec, node) else endpoint["httpPort"]
    c.setdefault("livenessProbe", _tcp_probe(port, 60))
    c.setdefault("readinessProbe", _tcp_probe(port, 20))
    c.setdefault(
        "lifecycle", {"preStop": {"exec": {"command": ["/bin/sh", "-c", "/bin/sleep 10"]}}}
    )


def parameters_json(parameters: list[dict[str, Any]]) -> str:
    """``PREDICTIVE_UNIT_PARAMETERS`` as Go marshals ``[]Parameter``: name, value, type."""
    rows = [
        {
            "name": str(p.get("name", "")),
            "value": str(p.get("value", "")),
            "type": p.get("type", ""),
        }
        for p in parameters
    ]
    return json.dumps(rows, separators=(",", ":"))


def add_env(
    sdep: dict[str, Any],
    predictor: dict[str, Any],
    node: dict[str, Any],
    c: dict[str, Any],
    options: RenderOptions,
) -> None:
    """The env the operator gives a node's container, in the operator's order."""
    endpoint = node["endpoint"]
    http, grpc = str(endpoint["httpPort"]), str(endpoint["grpcPort"])
    if not _has_env(c, "PREDICTIVE_UNIT_SERVICE_PORT"):
        _append_env(
            c, [("PREDICTIVE_UNIT_SERVICE_PORT", grpc if uses_grpc(sdep["spec"], node) else http)]
        )
    for name, value in (
        ("PREDICTIVE_UNIT_HTTP_SERVICE_PORT", http),
        ("MLSERVER_HTTP_PORT", http),
        ("PREDICTIVE_UNIT_GRPC_SERVICE_PORT", grpc),
        ("MLSERVER_GRPC_PORT", grpc),
    ):
        set_env_keep(c, name, value)
    if node.get("parameters"):
        set_env_keep(c, "PREDICTIVE_UNIT_PARAMETERS", parameters_json(node["parameters"]))
    if node.get("modelUri"):
        set_env_keep(c, "MLSERVER_MODEL_URI", MODEL_DIR)
    labels = json.dumps(dict(sorted(predictor["labels"].items())), separators=(",", ":"))
    _append_env(
        c,
        [
            ("PREDICTIVE_UNIT_ID", c["name"]),
            ("MLSERVER_MODEL_NAME", c["name"]),
            ("PREDICTIVE_UNIT_IMAGE", str(c.get("image", ""))),
            ("PREDICTOR_ID", predictor["name"]),
            ("PREDICTOR_LABELS", labels),
            ("SELDON_DEPLOYMENT_ID", sdep["metadata"]["name"]),
            ("SELDON_EXECUTOR_ENABLED", "true"),
        ],
    )
    _metrics_env(c, options)


def _metrics_env(c: dict[str, Any], options: RenderOptions) -> None:
    """Metrics port and path, when the container has a port named ``metrics``."""
    name = options.metrics_port_name
    metrics = next((p for p in c.get("ports") or () if p.get("name") == name), None)
    if metrics is None:
        return
    port = str(metrics["containerPort"])
    _append_env(
        c,
        [
            ("PREDICTIVE_UNIT_METRICS_SERVICE_PORT", port),
            ("PREDICTIVE_UNIT_METRICS_ENDPOINT", options.prometheus_path),
            ("MLSERVER_METRICS_PORT", port),
            ("MLSERVER_METRICS_ENDPOINT", options.prometheus_path),
        ],
    )
