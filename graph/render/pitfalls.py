"""Operator behaviour a valid-looking SeldonDeployment runs into, found on the
SeldonDeployment itself (Seldon Core 1.17.1 sources cited per rule)."""

from __future__ import annotations

from typing import Any

from graph.render.checks import ERROR, WARNING, ObjectFinding
from graph.render.defaulting import find_node

# Set with utils.SetEnvVar(override=false) in addPortEnvs/addModelEnvs
# (operator/controllers/seldondeployment_controller.go); see containers.set_env_keep.
KEPT_ENV = (
    "PREDICTIVE_UNIT_HTTP_SERVICE_PORT",
    "MLSERVER_HTTP_PORT",
    "PREDICTIVE_UNIT_GRPC_SERVICE_PORT",
    "MLSERVER_GRPC_PORT",
)
EXECUTOR_ANNOTATIONS = (
    "seldon.io/rest-timeout",
    "seldon.io/grpc-timeout",
    "seldon.io/grpc-max-message-size",
)
GRPC_READ_TIMEOUT = "seldon.io/grpc-read-timeout"


def _wiped(node: dict[str, Any], container: dict[str, Any]) -> list[str]:
    names = {str(e.get("name")) for e in container.get("env") or ()}
    clashes = [n for n in KEPT_ENV if n in names]
    if node.get("parameters") and "PREDICTIVE_UNIT_PARAMETERS" in names:
        clashes.append("PREDICTIVE_UNIT_PARAMETERS")
    if node.get("modelUri") and "MLSERVER_MODEL_URI" in names:
        clashes.append("MLSERVER_MODEL_URI")
    return clashes


def env_wipe_findings(doc: dict[str, Any], ref: str) -> list[ObjectFinding]:
    """A node container that sets a variable the operator sets "unless present" loses
    its whole env list: ``utils.SetEnvVar`` (operator/utils/utils.go) returns nil when
    the name exists and override is false."""
    found = []
    for i, predictor in enumerate(doc["spec"].get("predictors") or ()):
        for j, component in enumerate(predictor.get("componentSpecs") or ()):
            for k, container in enumerate((component.get("spec") or {}).get("containers") or ()):
                node = find_node(predictor.get("graph") or {}, str(container.get("name")))
                clashes = _wiped(node, container) if node is not None else []
                if clashes:
                    path = f"spec.predictors[{i}].componentSpecs[{j}].spec.containers[{k}].env"
                    message = (
                        f"sets {', '.join(clashes)}, which the operator also sets: Seldon Core "
                        "1.17.1 then drops this container's whole env list (utils.SetEnvVar); "
                        "remove them"
                    )
                    found.append(ObjectFinding(ref, path, message, path, ERROR))
    return found


def timeout_findings(doc: dict[str, Any], ref: str) -> list[ObjectFinding]:
    """The executor reads its timeouts from its pod's annotations (executor/k8s/
    annotation.go); pods get spec.annotations and predictor annotations, never
    metadata.annotations (createDeploymentWithoutEngine)."""
    found = []
    metadata = (doc.get("metadata") or {}).get("annotations") or {}
    reach = dict(doc["spec"].get("annotations") or {})
    for predictor in doc["spec"].get("predictors") or ():
        reach.update(predictor.get("annotations") or {})
    for key in EXECUTOR_ANNOTATIONS:
        if key in metadata and key not in reach:
            path = f"metadata.annotations[{key}]"
            message = (
                "never reaches the executor's pod: put it in spec.annotations "
                "(or a predictor's annotations)"
            )
            found.append(ObjectFinding(ref, path, message, path, WARNING))
    for where, given in (
        ("metadata", metadata),
        ("spec", doc["spec"].get("annotations") or {}),
    ):
        if GRPC_READ_TIMEOUT in given:
            path = f"{where}.annotations[{GRPC_READ_TIMEOUT}]"
            message = "is not read by the 1.17.1 executor, which reads seldon.io/grpc-timeout"
            found.append(ObjectFinding(ref, path, message, path, WARNING))
    return found


def pitfall_findings(doc: dict[str, Any]) -> list[ObjectFinding]:
    ref = f"SeldonDeployment/{(doc.get('metadata') or {}).get('name')}"
    return env_wipe_findings(doc, ref) + timeout_findings(doc, ref)
