"""``render``: the objects Seldon Core 1.17.1's operator creates for a SeldonDeployment
(``createComponents`` in ``operator/controllers/seldondeployment_controller.go``), in the
order it creates them: Services, HPAs, PDBs, Deployments, then the ingress objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graph.render import ingress
from graph.render.containers import add_env, add_ports_and_probes
from graph.render.defaulting import (
    default_seldon_deployment,
    find_node,
    separate_engine,
    unshared,
    walk,
)
from graph.render.deployments import deployment, hpa, label_container, pdb, select, select_node
from graph.render.executor import ENGINE_CONTAINER, executor_container
from graph.render.initializer import inject
from graph.render.names import deployment_name, predictor_key, seldon_id
from graph.render.objects import RenderedObject
from graph.render.options import AMBASSADOR, ISTIO, RenderOptions
from graph.render.services import node_service, predictor_service
from model.errors import ManifestError

NO_ENGINE = "seldon.io/no-engine"


@dataclass
class _Components:
    services: list[RenderedObject] = field(default_factory=list)
    scalers: list[RenderedObject] = field(default_factory=list)
    deployments: list[RenderedObject] = field(default_factory=list)
    ingress: list[RenderedObject] = field(default_factory=list)

    def all(self) -> list[RenderedObject]:
        return [*self.services, *self.scalers, *self.deployments, *self.ingress]


def _unsupported(sdep: dict[str, Any]) -> None:
    if separate_engine(sdep["spec"]):
        raise ManifestError("seldon.io/engine-separate-pod is not rendered", "spec.annotations")
    for i, predictor in enumerate(sdep["spec"]["predictors"]):
        if str((predictor.get("annotations") or {}).get(NO_ENGINE, "")).lower() == "true":
            raise ManifestError(f"{NO_ENGINE} is not rendered", f"spec.predictors[{i}].annotations")
        for j, component in enumerate(predictor.get("componentSpecs") or ()):
            if (component.get("hpaSpec") or {}).get("metrics"):
                path = f"spec.predictors[{i}].componentSpecs[{j}].hpaSpec.metrics"
                raise ManifestError(
                    "v2beta1 hpaSpec.metrics are not rendered (use metricsv2)", path
                )


def _node_containers(
    sdep: dict[str, Any],
    sid: str,
    i: int,
    obj: RenderedObject,
    out: _Components,
    options: RenderOptions,
) -> None:
    """The per-container loop: labels, and for graph nodes their Service, ports, probes
    and env."""
    predictor = sdep["spec"]["predictors"][i]
    deploy = obj.body
    for container in deploy["spec"]["template"]["spec"].get("containers") or ():
        node = find_node(predictor["graph"], container["name"])
        label_container(deploy, node, predictor)
        if container["name"] in (ENGINE_CONTAINER, "tfserving") or node is None:
            continue
        service = node_service(sdep, sid, predictor, node)
        out.services.append(RenderedObject(service, {"": _node_path(predictor, i, node["name"])}))
        select_node(deploy, container["name"], service["metadata"]["name"])
        add_ports_and_probes(sdep["spec"], node, container)
        add_env(sdep, predictor, node, container, options)


def _node_path(predictor: dict[str, Any], i: int, name: str) -> str:
    return next(
        p for n, p in walk(predictor["graph"], f"spec.predictors[{i}].graph") if n["name"] == name
    )


def _containing(
    out: _Components, i: int, name: str, *, last: bool = False
) -> RenderedObject | None:
    """The first (or ``last``) Deployment of predictor ``i`` with a container ``name``.
    The storage initializer takes the first (``GetSeldonPodSpecForPredictiveUnit``); the
    executor the last (the loop in ``createComponents`` does not break)."""
    found = [
        obj
        for obj in out.deployments
        if obj.origins[""].startswith(f"spec.predictors[{i}].")
        and any(
            c["name"] == name for c in obj.body["spec"]["template"]["spec"].get("containers") or ()
        )
    ]
    if not found:
        return None
    return found[-1] if last else found[0]


def _initializers(
    i: int, predictor: dict[str, Any], out: _Components, options: RenderOptions
) -> None:
    """``addModelServersAndInitContainers`` for custom containers: one storage
    initializer per node with a ``modelUri``, pre-order."""
    for node, path in walk(predictor["graph"], f"spec.predictors[{i}].graph"):
        if not node.get("modelUri"):
            continue
        obj = _containing(out, i, node["name"])
        if obj is None:
            raise ManifestError(f"no container named {node['name']!r} for this node", path)
        pod = obj.body["spec"]["template"]["spec"]
        container = next(c for c in pod["containers"] if c["name"] == node["name"])
        for key, index in inject(pod, container, node, options):
            obj.origins[f"spec.template.spec.{key}[{index}]"] = f"{path}.modelUri"


def _engine(sdep: dict[str, Any], i: int, out: _Components, options: RenderOptions) -> None:
    """``addEngineToDeployment``: the executor joins the pod of the first node (pre-order)
    the defaulting marked ``localhost``."""
    predictor = sdep["spec"]["predictors"][i]
    node = next(
        (
            n
            for n, _ in walk(predictor["graph"], "")
            if (n.get("endpoint") or {}).get("service_host") == "localhost"
        ),
        None,
    )
    obj = _containing(out, i, node["name"], last=True) if node is not None else None
    if obj is None:
        raise ManifestError(
            "no node's container is in componentSpecs[0]: nowhere to put the executor",
            f"spec.predictors[{i}].componentSpecs",
        )
    deploy = obj.body
    containers = deploy["spec"]["template"]["spec"]["containers"]
    containers.append(executor_container(sdep, predictor, options))
    obj.origins[f"spec.template.spec.containers[{len(containers) - 1}]"] = f"spec.predictors[{i}]"
    deploy["metadata"]["labels"]["seldon-deployment-contains-svcorch"] = "true"
    select(deploy, "seldon-app", predictor_key(sdep["metadata"]["name"], predictor))


def _predictor(
    sdep: dict[str, Any], sid: str, i: int, out: _Components, options: RenderOptions
) -> None:
    predictor = sdep["spec"]["predictors"][i]
    name = sdep["metadata"]["name"]
    for j, component in enumerate(predictor.get("componentSpecs") or ()):
        if not (component.get("spec") or {}).get("containers"):
            continue
        dep_name = deployment_name(
            name, predictor["name"], component, j, options.deployment_name_as_prefix
        )
        obj = deployment(sdep, sid, (i, j), dep_name, options)
        where = f"spec.predictors[{i}].componentSpecs[{j}]"
        if component.get("hpaSpec") and not component.get("kedaSpec"):
            out.scalers.append(
                RenderedObject(hpa(sdep, sid, dep_name, component), {"": f"{where}.hpaSpec"})
            )
        if component.get("pdbSpec"):
            out.scalers.append(
                RenderedObject(pdb(sdep, sid, dep_name, component), {"": f"{where}.pdbSpec"})
            )
        _node_containers(sdep, sid, i, obj, out, options)
        out.deployments.append(obj)
    _initializers(i, predictor, out, options)
    _engine(sdep, i, out, options)
    ports = (options.executor_http_port, options.executor_grpc_port)
    out.services.append(
        RenderedObject(
            predictor_service(sdep, sid, predictor, ports), {"": f"spec.predictors[{i}]"}
        )
    )
    if options.ingress == AMBASSADOR:
        for mapping in ingress.ambassador(sdep, sid, predictor, ports, options):
            out.ingress.append(RenderedObject(mapping, {"": f"spec.predictors[{i}]"}))


def render_objects(
    doc: dict[str, Any], options: RenderOptions | None = None
) -> list[RenderedObject]:
    """The operator's objects for one SeldonDeployment, each with its origins."""
    options = options or RenderOptions()
    sdep = default_seldon_deployment(doc, options)
    _unsupported(sdep)
    sid = seldon_id(sdep["metadata"]["name"])
    out = _Components()
    for i in range(len(sdep["spec"]["predictors"])):
        _predictor(sdep, sid, i, out, options)
    if options.ingress == ISTIO:
        ports = (options.executor_http_port, options.executor_grpc_port)
        objs = ingress.istio(sdep, sid, ports, options)
        out.ingress.append(RenderedObject(objs[0], {"": "spec.predictors"}))
        out.ingress.extend(
            RenderedObject(o, {"": f"spec.predictors[{k}]"}) for k, o in enumerate(objs[1:])
        )
    rendered = out.all()
    for obj in rendered:
        obj.body = unshared(obj.body)  # no shared dicts (YAML anchors) in the output
    return rendered


def render(doc: dict[str, Any], options: RenderOptions | None = None) -> list[dict[str, Any]]:
    """The Kubernetes objects Seldon Core 1.17.1's operator creates for ``doc``."""
    return [obj.body for obj in render_objects(doc, options)]
