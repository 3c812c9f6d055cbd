"""The executor container (``seldon-container-engine``) the operator adds to the pod of
the graph's first node in componentSpecs[0] (``createExecutorContainer``,
``createEngineContainer`` and ``addEngineToDeployment`` in
``operator/controllers/seldondeployment_engine.go``)."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from graph.render.defaulting import PODINFO_PATH, PODINFO_VOLUME, annotation
from graph.render.options import RenderOptions

ENGINE_CONTAINER = "seldon-container-engine"
ENGINE_ENV_PREFIX = "seldon.io/engine-"
SEPARATE_ENGINE = "seldon.io/engine-separate-pod"


def engine_predictor(predictor: dict[str, Any]) -> str:
    """``ENGINE_PREDICTOR``: the defaulted predictor as base64 JSON with traffic and
    replicas zeroed, creation timestamps nulled and no explainer (``GetEngineVarJson``).
    Same content as the operator's; Go's key order and HTML escaping are not reproduced."""
    p = copy.deepcopy(predictor)
    p.pop("traffic", None)  # 0 is omitted (omitempty)
    p["replicas"] = 0
    p.pop("explainer", None)
    for component in p.get("componentSpecs") or ():
        component.setdefault("metadata", {})["creationTimestamp"] = None
    return base64.b64encode(json.dumps(p, separators=(",", ":")).encode()).decode()


def _env_from_annotations(sdep: dict[str, Any]) -> list[tuple[str, str]]:
    """``GetEngineEnvAnnotations``: ``seldon.io/engine-foo-bar: v`` -> ``FOO_BAR=v``,
    spec.annotations only, sorted by key."""
    found = []
    for key, value in sorted((sdep["spec"].get("annotations") or {}).items()):
        if key.startswith(ENGINE_ENV_PREFIX) and key != SEPARATE_ENGINE:
            name = key.removeprefix(ENGINE_ENV_PREFIX).replace("-", "_").upper()
            found.append((name, str(value)))
    return found


def _probe(port: int, path: str, scheme: str) -> dict[str, Any]:
    return {
        "httpGet": {"port": port, "path": path, "scheme": scheme},
        "initialDelaySeconds": 20,
        "periodSeconds": 5,
        "failureThreshold": 3,
        "successThreshold": 1,
        "timeoutSeconds": 60,
    }


def _args(sdep: dict[str, Any], predictor: dict[str, Any], options: RenderOptions) -> list[str]:
    spec = sdep["spec"]
    queue = annotation(
        sdep, "seldon.io/executor-logger-queue-size", options.request_logger_queue_size
    )
    timeout = annotation(
        sdep, "seldon.io/executor-logger-write-timeout-ms", options.request_logger_write_timeout_ms
    )
    health = "true" if options.executor_full_health_checks else "false"
    return [
        "--sdep", sdep["metadata"]["name"],
        "--namespace", sdep["metadata"]["namespace"],
        "--predictor", predictor["name"],
        "--http_port", str(options.executor_http_port),
        "--grpc_port", str(options.executor_grpc_port),
        "--protocol", spec.get("protocol") or "seldon",
        "--transport", spec.get("transport") or "rest",
        "--prometheus_path", options.prometheus_path,
        "--server_type", spec.get("serverType") or "rpc",
        "--log_work_buffer_size", queue,
        "--log_write_timeout_ms", timeout,
        f"--full_health_checks={health}",
    ]  # fmt: skip


def _env(
    sdep: dict[str, Any], predictor: dict[str, Any], options: RenderOptions
) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "ENGINE_PREDICTOR", "value": engine_predictor(predictor)},
        {"name": "REQUEST_LOGGER_DEFAULT_ENDPOINT", "value": options.request_logger_endpoint},
    ]
    own = list((predictor.get("svcOrchSpec") or {}).get("env") or ())
    env.extend(own)
    names = {e.get("name") for e in own}
    env.extend({"name": n, "value": v} for n, v in _env_from_annotations(sdep) if n not in names)
    return env


def executor_container(
    sdep: dict[str, Any], predictor: dict[str, Any], options: RenderOptions
) -> dict[str, Any]:
    """The ``seldon-container-engine`` container for ``predictor``."""
    http, grpc = options.executor_http_port, options.executor_grpc_port
    tls = bool((predictor.get("ssl") or {}).get("certSecretName"))
    scheme = "HTTPS" if tls else "HTTP"
    resources = (predictor.get("svcOrchSpec") or {}).get("resources") or {
        "requests": {"cpu": options.executor_cpu, "memory": options.executor_memory},
        "limits": {"cpu": options.executor_cpu, "memory": options.executor_memory},
    }
    container: dict[str, Any] = {
        "name": ENGINE_CONTAINER,
        "image": options.executor_image,
        "args": _args(sdep, predictor, options),
        "imagePullPolicy": options.executor_pull_policy,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [{"name": PODINFO_VOLUME, "mountPath": PODINFO_PATH}],
        "env": _env(sdep, predictor, options),
        # The metrics port shares the HTTP port's number (the API server warns).
        "ports": [
            {"containerPort": http, "protocol": "TCP", "name": "http"},
            {"containerPort": http, "protocol": "TCP", "name": "metrics"},
            {"containerPort": grpc, "protocol": "TCP", "name": "grpc"},
        ],
        "readinessProbe": _probe(http, "/ready", scheme),
        "livenessProbe": _probe(http, "/live", scheme),
        "resources": resources,
    }
    if options.executor_user is not None:
        container["securityContext"] = {
            "runAsUser": options.executor_user,
            "allowPrivilegeEscalation": False,
        }
    return container
