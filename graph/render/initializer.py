"""The storage initializer the operator injects for each node with a ``modelUri``
(``InjectModelInitializer`` in ``operator/controllers/model_initializer_injector.go``,
called by ``addModelServersAndInitContainers`` in
``seldondeployment_prepackaged_servers.go``)."""

from __future__ import annotations

from typing import Any

from graph.render.containers import MODEL_DIR
from graph.render.names import initializer_container_name, initializer_volume_name
from graph.render.options import RenderOptions

PVC_PREFIX = "pvc://"
PVC_VOLUME = "kfserving-pvc-source"  # PvcSourceMountName: one fixed name per pod
PVC_MOUNT = "/mnt/pvc"


def _add_mount(container: dict[str, Any], name: str, path: str) -> None:
    """``addVolumeMountToContainer``: a read-only mount unless one of that name exists."""
    mounts = container.setdefault("volumeMounts", [])
    if not any(m.get("name") == name for m in mounts):
        mounts.append({"name": name, "mountPath": path, "readOnly": True})


def _parse_pvc(uri: str) -> tuple[str, str]:
    """``parsePvcURI``: ``pvc://<claim>/<path>`` -> (claim, path)."""
    claim, _, path = uri.removeprefix(PVC_PREFIX).partition("/")
    return claim, path


def _init_container(
    name: str, image: str, args: list[str], mounts: list[dict[str, Any]], options: RenderOptions
) -> dict[str, Any]:
    """The storage initializer container; resources from seldon-config."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "volumeMounts": mounts,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "resources": {
            "limits": {
                "cpu": options.storage_initializer_cpu_limit,
                "memory": options.storage_initializer_memory_limit,
            },
            "requests": {
                "cpu": options.storage_initializer_cpu_request,
                "memory": options.storage_initializer_memory_request,
            },
        },
    }


def inject(
    pod: dict[str, Any],
    container: dict[str, Any],
    node: dict[str, Any],
    options: RenderOptions,
) -> list[tuple[str, int]]:
    """Add the init container, its volumes and the mounts for ``node`` to ``pod``.

    Returns what was added as (pod list name, index) pairs, for tracing findings back.
    Nothing is added twice for one container (an init container of the same name exists).
    """
    volume = initializer_volume_name(container["name"])
    name = initializer_container_name(container["name"])
    inits = pod.setdefault("initContainers", [])
    if any(c.get("name") == name for c in inits):
        _add_mount(container, volume, MODEL_DIR)
        return []
    uri = str(node["modelUri"])
    volumes: list[dict[str, Any]] = []
    init_mounts: list[dict[str, Any]] = []
    if uri.startswith(PVC_PREFIX):
        claim, path = _parse_pvc(uri)
        volumes.append({"name": PVC_VOLUME, "persistentVolumeClaim": {"claimName": claim}})
        init_mounts.append({"name": PVC_VOLUME, "mountPath": PVC_MOUNT, "readOnly": True})
        _add_mount(container, PVC_VOLUME, PVC_MOUNT)
        uri = f"{PVC_MOUNT}/{path}"
    volumes.append({"name": volume, "emptyDir": {}})
    init_mounts.append({"name": volume, "mountPath": MODEL_DIR})
    image = node.get("storageInitializerImage") or options.storage_initializer_image
    init = _init_container(name, image, [uri, MODEL_DIR], init_mounts, options)
    secret = node.get("envSecretRefName") or options.default_env_secret_ref_name
    if secret:
        init["envFrom"] = [{"secretRef": {"name": secret}}]
    _add_mount(container, volume, MODEL_DIR)
    first = len(pod.setdefault("volumes", []))
    pod["volumes"].extend(volumes)
    inits.append(init)
    added = [("volumes", first + k) for k in range(len(volumes))]
    return [*added, ("initContainers", len(inits) - 1)]
