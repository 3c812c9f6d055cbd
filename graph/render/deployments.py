"""One Deployment per componentSpec, as ``createDeploymentWithoutEngine`` and the
per-container loop of ``createComponents`` build it
(``operator/controllers/seldondeployment_controller.go``), with HPAs and PDBs."""

from __future__ import annotations

from typing import Any

from graph.render.defaulting import PODINFO_VOLUME
from graph.render.objects import RenderedObject
from graph.render.options import RenderOptions
from graph.render.services import service_label_key, type_labels

POD_DEFAULTS = (
    ("restartPolicy", "Always"),
    ("dnsPolicy", "ClusterFirst"),
    ("schedulerName", "default-scheduler"),
)


def podinfo_volume() -> dict[str, Any]:
    """The downward-API volume the executor reads the pod's annotations from."""
    items = [
        {
            "path": "annotations",
            "fieldRef": {"fieldPath": "metadata.annotations", "apiVersion": "v1"},
        }
    ]
    return {"name": PODINFO_VOLUME, "downwardAPI": {"items": items, "defaultMode": 420}}


def _annotations(
    sdep: dict[str, Any], predictor: dict[str, Any], component: dict[str, Any]
) -> dict[str, str]:
    """spec.annotations, then the predictor's, then the componentSpec's metadata's: not
    metadata.annotations, which never reach the pods."""
    found: dict[str, str] = {}
    for source in (
        sdep["spec"].get("annotations"),
        predictor.get("annotations"),
        (component.get("metadata") or {}).get("annotations"),
    ):
        found.update({str(k): str(v) for k, v in (source or {}).items()})
    return found


def _pod_spec(component: dict[str, Any], options: RenderOptions) -> dict[str, Any]:
    """The componentSpec's pod spec with the operator's defaults. The containers are the
    defaulted SeldonDeployment's own dicts: the operator shares them too, and
    ENGINE_PREDICTOR shows what was added to them."""
    spec = dict(component.get("spec") or {})
    spec["volumes"] = list(spec.get("volumes") or ())
    if spec.get("initContainers"):
        spec["initContainers"] = list(spec["initContainers"])
    if spec.get("securityContext") is None and options.default_user_id is not None:
        spec["securityContext"] = {"runAsUser": options.default_user_id}
    for key, value in POD_DEFAULTS:
        spec.setdefault(key, value)
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 20
    if not any(v.get("name") == PODINFO_VOLUME for v in spec["volumes"]):
        spec["volumes"].append(podinfo_volume())
    return spec


def _labels(
    seldon_id: str, name: str, predictor: dict[str, Any], component: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """The Deployment's and its pods' labels: ids, then the predictor's, then the
    componentSpec metadata's; pods of a shadow predictor are marked."""
    labels = {"seldon-deployment-id": seldon_id, "app": name, "fluentd": "true"}
    pod_labels = dict(labels)
    if predictor.get("shadow") is True:
        pod_labels["seldon.io/shadow"] = "true"
    for extra in (
        predictor.get("labels") or {},
        (component.get("metadata") or {}).get("labels") or {},
    ):
        labels.update(extra)
        pod_labels.update(extra)
    return labels, pod_labels


def _replicas(sdep: dict[str, Any], predictor: dict[str, Any], component: dict[str, Any]) -> Any:
    """componentSpec, else predictor, else spec replicas; none when autoscaled."""
    if component.get("hpaSpec") or component.get("kedaSpec"):
        return None
    candidates = (
        component.get("replicas"),
        predictor.get("replicas"),
        sdep["spec"].get("replicas"),
    )
    return next((r for r in candidates if r is not None), None)


def _origins(
    at: tuple[int, int], spec: dict[str, Any], component: dict[str, Any]
) -> dict[str, str]:
    where = f"spec.predictors[{at[0]}].componentSpecs[{at[1]}]"
    origins = {"": where, "spec.template.spec": f"{where}.spec"}
    for k, _ in enumerate(spec["template"]["spec"].get("containers") or ()):
        origins[f"spec.template.spec.containers[{k}]"] = f"{where}.spec.containers[{k}]"
    for k, _ in enumerate((component.get("spec") or {}).get("volumes") or ()):
        origins[f"spec.template.spec.volumes[{k}]"] = f"{where}.spec.volumes[{k}]"
    return origins


def deployment(
    sdep: dict[str, Any],
    seldon_id: str,
    at: tuple[int, int],
    name: str,
    options: RenderOptions,
) -> RenderedObject:
    """The Deployment of componentSpec ``at`` = (predictor index, component index)."""
    predictor = sdep["spec"]["predictors"][at[0]]
    component = predictor["componentSpecs"][at[1]]
    labels, pod_labels = _labels(seldon_id, name, predictor, component)
    annotations = _annotations(sdep, predictor, component)
    pod_annotations = {
        "prometheus.io/path": options.prometheus_path,
        "prometheus.io/scrape": "true",
    }
    pod_annotations.update(annotations)
    spec: dict[str, Any] = {}
    if (replicas := _replicas(sdep, predictor, component)) is not None:
        spec["replicas"] = replicas
    spec["selector"] = {"matchLabels": {"seldon-deployment-id": seldon_id}}
    spec["template"] = {
        "metadata": {"labels": pod_labels, "annotations": pod_annotations},
        "spec": _pod_spec(component, options),
    }
    # The operator writes IntOrString{StrVal: "10%"} without Type=String, which Go
    # serialises as the integer 0: maxUnavailable is 0, not 10%.
    spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}
    if predictor.get("progressDeadlineSeconds") is not None:
        spec["progressDeadlineSeconds"] = predictor["progressDeadlineSeconds"]
    metadata: dict[str, Any] = {"name": name, "namespace": sdep["metadata"]["namespace"]}
    metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}
    return RenderedObject(body, _origins(at, spec, component))


def label_container(
    deploy: dict[str, Any], node: dict[str, Any] | None, predictor: dict[str, Any]
) -> None:
    """``addLabelsToDeployment``: type, shadow and managed-by labels."""
    labels = type_labels(node, predictor)
    deploy["metadata"]["labels"].update(labels)
    deploy["spec"]["template"]["metadata"]["labels"].update(labels)


def select(deploy: dict[str, Any], key: str, value: str, *, selector: bool = True) -> None:
    """A label on the Deployment, its pods and (``selector``) its selector."""
    deploy["metadata"]["labels"][key] = value
    deploy["spec"]["template"]["metadata"]["labels"][key] = value
    if selector:
        deploy["spec"]["selector"]["matchLabels"][key] = value


def select_node(deploy: dict[str, Any], node_name: str, service: str) -> None:
    """The ``seldon-app-svc-<container>`` label a node's Service selects."""
    select(deploy, service_label_key(node_name), service)


def hpa(
    sdep: dict[str, Any], seldon_id: str, name: str, component: dict[str, Any]
) -> dict[str, Any]:
    """``createHpa``: autoscaling/v2, metrics from hpaSpec.metricsv2."""
    spec_in = component["hpaSpec"]
    spec: dict[str, Any] = {
        "scaleTargetRef": {"name": name, "apiVersion": "apps/v1", "kind": "Deployment"},
        "maxReplicas": spec_in["maxReplicas"],
    }
    if spec_in.get("metricsv2"):
        spec["metrics"] = spec_in["metricsv2"]
    if spec_in.get("minReplicas") is not None:
        spec["minReplicas"] = spec_in["minReplicas"]
    return _scaling("autoscaling/v2", "HorizontalPodAutoscaler", sdep, seldon_id, name, spec)


def pdb(
    sdep: dict[str, Any], seldon_id: str, name: str, component: dict[str, Any]
) -> dict[str, Any]:
    """``createPdb``: policy/v1, selecting every pod of the SeldonDeployment."""
    spec = {
        k: v for k, v in component["pdbSpec"].items() if k in ("minAvailable", "maxUnavailable")
    }
    spec["selector"] = {"matchLabels": {"seldon-deployment-id": seldon_id}}
    return _scaling("policy/v1", "PodDisruptionBudget", sdep, seldon_id, name, spec)


def _scaling(
    api: str, kind: str, sdep: dict[str, Any], seldon_id: str, name: str, spec: dict[str, Any]
) -> dict[str, Any]:
    metadata = {
        "name": name,
        "namespace": sdep["metadata"]["namespace"],
        "labels": {"seldon-deployment-id": seldon_id},
    }
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec}
