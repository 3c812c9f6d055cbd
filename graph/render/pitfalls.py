"""Operator behaviour a valid-looking SeldonDeployment runs into, found on the
SeldonDeployment itself (Seldon Core 1.17.1 sources cited per rule)."""

from __future__ import annotations

from typing import Any

from graph import executor_annotations as ea
from graph.render.checks import ERROR, WARNING, ObjectFinding
from graph.render.defaulting import find_node
from graph.render.images import image_findings

# Set with utils.SetEnvVar(override=false) in addPortEnvs/addModelEnvs
# (operator/controllers/seldondeployment_controller.go); see containers.set_env_keep.
KEPT_ENV = (
    "PREDICTIVE_UNIT_HTTP_SERVICE_PORT",
    "MLSERVER_HTTP_PORT",
    "PREDICTIVE_UNIT_GRPC_SERVICE_PORT",
    "MLSERVER_GRPC_PORT",
)


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


def _value_findings(found: dict[str, ObjectFinding], ref: str, pod: dict[str, Any]) -> None:
    """How the executor parses the timeouts it gets (graph/executor_annotations.py)."""
    if not ea.readable({k: a.value for k, a in pod.items()}):
        bad = next(a for a in pod.values() if "=" in a.value)
        message = (
            "holds '=': the executor's pod annotations file then does not parse "
            "(executor/k8s/annotation.go) and the executor reads no timeout at all"
        )
        found[bad.path] = ObjectFinding(ref, bad.path, message, bad.path, WARNING)
        return
    checks = (
        (ea.REST_TIMEOUT, ea.rest_timeout_ms, ERROR, "is not whole milliseconds: the "
         "1.17.1 executor exits at start (NewJSONRestClient)", "means no timeout"),
        (ea.GRPC_TIMEOUT, ea.grpc_timeout_ms, WARNING, "is not whole milliseconds: the "
         "executor logs it and uses no timeout", "is an expired deadline: every gRPC call "
         "to a node fails with DEADLINE_EXCEEDED"),
    )  # fmt: skip
    for key, parse, severity, unparsable, not_positive in checks:
        if key not in pod:
            continue
        path = pod[key].path
        try:
            ms = parse(pod[key].value)
        except ValueError:
            found[path] = ObjectFinding(ref, path, unparsable, path, severity)
            continue
        if ms is None or ms <= 0:
            found[path] = ObjectFinding(ref, path, not_positive, path, WARNING)


def _placed(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(path, key, where) of every seldon.io/ annotation the SDep writes."""
    spec = doc["spec"]
    places = [("metadata", (doc.get("metadata") or {}).get("annotations")),
              ("spec", spec.get("annotations"))]  # fmt: skip
    for i, predictor in enumerate(spec.get("predictors") or ()):
        places.append((f"spec.predictors[{i}]", predictor.get("annotations")))
        for j, component in enumerate(predictor.get("componentSpecs") or ()):
            meta = (component or {}).get("metadata") or {}
            places.append((f"spec.predictors[{i}].componentSpecs[{j}].metadata",
                           meta.get("annotations")))  # fmt: skip
    return [(f"{base}.annotations[{key}]", str(key), base)
            for base, mapping in places for key in (mapping or {})]  # fmt: skip


def _place_message(key: str, where: str, doc: dict[str, Any]) -> str | None:
    if key in ea.UNREAD_KEYS:
        return f"is not read by the 1.17.1 executor, which reads {ea.UNREAD_KEYS[key]} (ms)"
    if key not in ea.EXECUTOR_KEYS:
        return None
    if where == "metadata":
        return ("never reaches the executor's pod: put it in spec.annotations "
                "(or a predictor's annotations)")  # fmt: skip
    if ea.separate_engine(doc["spec"]):
        return (f"never reaches the executor: with {ea.SEPARATE_ENGINE} its own pod gets "
                "no SeldonDeployment annotations (createEngineDeployment)")  # fmt: skip
    if ".componentSpecs[" in where and not where.endswith("componentSpecs[0].metadata"):
        return ("reaches only this componentSpec's pod, not the executor's (which runs in "
                "componentSpecs[0]): put it in spec.annotations")  # fmt: skip
    return None


def timeout_findings(doc: dict[str, Any], ref: str) -> list[ObjectFinding]:
    """The executor reads its timeouts from its pod's annotations (executor/k8s/
    annotation.go) with the keys and parsing in graph/executor_annotations.py: keys in
    places that never reach that pod, keys it does not know and values it cannot use."""
    found: dict[str, ObjectFinding] = {}
    for path, key, where in _placed(doc):
        if (message := _place_message(key, where, doc)) is not None:
            found[path] = ObjectFinding(ref, path, message, path, WARNING)
    for i, _ in enumerate(doc["spec"].get("predictors") or ()):
        _value_findings(found, ref, ea.executor_pod_annotations(doc, i))
    return list(found.values())


def pitfall_findings(doc: dict[str, Any]) -> list[ObjectFinding]:
    ref = f"SeldonDeployment/{(doc.get('metadata') or {}).get('name')}"
    return env_wipe_findings(doc, ref) + timeout_findings(doc, ref) + image_findings(doc, ref)
