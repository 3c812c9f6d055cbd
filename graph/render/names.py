"""Object names the operator derives from a SeldonDeployment, with its hashing rule for
names over 63 characters (``operator/apis/machinelearning.seldon.io/v1/
seldondeployment_types.go``)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

MAX_NAME = 63
SVC_NAME_ANNOTATION = "seldon.io/svc-name"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _hashed(name: str) -> str:
    """``name``, or ``seldon-<md5 of name>`` when longer than 63 characters."""
    return "seldon-" + _md5(name) if len(name) > MAX_NAME else name


def seldon_id(sdep_name: str) -> str:
    """The ``seldon-deployment-id`` label value (``GetSeldonDeploymentName``)."""
    return _hashed(sdep_name)


def predictor_key(sdep_name: str, predictor: Mapping[str, Any]) -> str:
    """The predictor's Service name: ``seldon.io/svc-name`` or ``<sdep>-<predictor>``
    (``GetPredictorKey``)."""
    custom = (predictor.get("annotations") or {}).get(SVC_NAME_ANNOTATION)
    if custom is not None:
        return str(custom)
    return _hashed(f"{sdep_name}-{predictor['name']}")


def deployment_name(
    sdep_name: str,
    predictor_name: str,
    component: Mapping[str, Any],
    index: int,
    as_prefix: bool = False,
) -> str:
    """``<sdep>-<predictor>-<index>-<metadata.name or container names joined by ->``
    (``GetDeploymentName``); over 63 characters ``seldon-<md5>`` (or ``<sdep>-<md5>`` with
    DEPLOYMENT_NAME_AS_PREFIX when that fits)."""
    base = f"{sdep_name}-{predictor_name}-{index}-"
    meta_name = (component.get("metadata") or {}).get("name")
    containers: Sequence[Mapping[str, Any]] = (component.get("spec") or {}).get("containers") or ()
    name = base + (meta_name or "-".join(str(c.get("name", "")) for c in containers))
    if len(name) <= MAX_NAME:
        return name
    if as_prefix and len(f"{sdep_name}-{_md5(name)}") <= MAX_NAME:
        return f"{sdep_name}-{_md5(name)}"
    return "seldon-" + _md5(name)


def container_service_name(sdep_name: str, predictor_name: str, container_name: str) -> str:
    """The per-node Service ``<sdep>-<predictor>-<container>`` (``GetContainerServiceName``)."""
    return _hashed(f"{sdep_name}-{predictor_name}-{container_name}")


def svc_orch_name(sdep_name: str, predictor_name: str) -> str:
    """The separate executor Deployment ``<sdep>-<predictor>-svc-orch``
    (``GetServiceOrchestratorName``)."""
    return _hashed(f"{sdep_name}-{predictor_name}-svc-orch")


def _cut(name: str) -> str:
    """The first 63 characters, a trailing ``-`` dropped (model_initializer_injector.go)."""
    return name[:MAX_NAME].removesuffix("-") if len(name) > MAX_NAME else name


def initializer_container_name(container_name: str) -> str:
    """``<container>-model-initializer``, cut to 63 (``InjectModelInitializer``)."""
    return _cut(f"{container_name}-model-initializer")


def initializer_volume_name(container_name: str) -> str:
    """``<container>-provision-location``, cut to 63 (``InjectModelInitializer``)."""
    return _cut(f"{container_name}-provision-location")
