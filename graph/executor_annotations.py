"""The annotations Seldon Core 1.17.1's executor reads, and how it reads them.

The executor reads its pod's annotations from the downward-API file
``/etc/podinfo/annotations`` (``executor/k8s/annotation.go``), never env or the
SeldonDeployment's ``metadata.annotations``. The operator writes into the pod that holds
the executor (the pod of ``componentSpecs[0]``, where the graph root runs): the SDep's
``spec.annotations``, then the predictor's ``annotations``, then that componentSpec's
``metadata.annotations``, then the predictor's again (``createDeploymentWithoutEngine``
and ``addEngineToDeployment``; later wins). With ``seldon.io/engine-separate-pod`` the
executor's own pod gets none of them (``createEngineDeployment``).

Keys and parsing (milliseconds):
- ``seldon.io/rest-timeout``: ``strconv.ParseInt(v, 10, 32)``; a value that does not
  parse stops the executor at start (``NewJSONRestClient`` error, ``log.Fatalf``); 0 or
  less means no timeout (``executor/api/rest/client.go``).
- ``seldon.io/grpc-timeout``: ``strconv.Atoi``; a value that does not parse is logged and
  ignored; any parsed value becomes a per-call deadline, so 0 or less fails every gRPC
  call with DEADLINE_EXCEEDED (``executor/api/grpc/client.go``).
- The kubelet writes each annotation as ``key="value"``; a value holding ``=`` splits into
  more than two parts, and the executor then drops the whole map (logged), so it reads no
  timeout at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REST_TIMEOUT = "seldon.io/rest-timeout"
GRPC_TIMEOUT = "seldon.io/grpc-timeout"
GRPC_MAX_MESSAGE_SIZE = "seldon.io/grpc-max-message-size"
EXECUTOR_KEYS = (REST_TIMEOUT, GRPC_TIMEOUT, GRPC_MAX_MESSAGE_SIZE)
SEPARATE_ENGINE = "seldon.io/engine-separate-pod"
# Keys of Seldon's pre-1.0 Java engine (and Ambassador) that 1.17.1 never reads, with the
# key that does what they meant.
UNREAD_KEYS = {
    "seldon.io/grpc-read-timeout": GRPC_TIMEOUT,
    "seldon.io/rest-read-timeout": REST_TIMEOUT,
    "seldon.io/rest-connection-timeout": REST_TIMEOUT,
}
_GO_INT = re.compile(r"[+-]?[0-9]+\Z")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Annotation:
    """One annotation the executor's pod gets: its value and where the SDep sets it."""

    value: str
    path: str


def go_int(text: str, bits: int) -> int:
    """``strconv.ParseInt(text, 10, bits)``: optional sign, decimal digits, in range;
    no spaces, no underscores. Raises ``ValueError`` like Go returns an error."""
    low, high = _INT32 if bits == 32 else _INT64
    if not _GO_INT.match(text) or not low <= int(text) <= high:
        raise ValueError(f"{text!r} is not a {bits}-bit decimal integer")
    return int(text)


def separate_engine(spec: Mapping[str, Any]) -> bool:
    return str((spec.get("annotations") or {}).get(SEPARATE_ENGINE, "")).lower() == "true"


def executor_pod_annotations(doc: Mapping[str, Any], index: int) -> dict[str, Annotation]:
    """The annotations predictor ``index``'s executor pod gets from the SDep, each with
    the YAML path of the value that wins."""
    spec = doc.get("spec") or {}
    if separate_engine(spec):
        return {}
    predictor = (spec.get("predictors") or [])[index]
    base = f"spec.predictors[{index}]"
    components = predictor.get("componentSpecs") or []
    first = ((components[0] or {}).get("metadata") or {}) if components else {}
    layers = (
        ("spec.annotations", spec.get("annotations")),
        (f"{base}.annotations", predictor.get("annotations")),
        (f"{base}.componentSpecs[0].metadata.annotations", first.get("annotations")),
        (f"{base}.annotations", predictor.get("annotations")),
    )
    found: dict[str, Annotation] = {}
    for path, mapping in layers:
        for key, value in (mapping or {}).items():
            found[str(key)] = Annotation(str(value), f"{path}[{key}]")
    return found


def readable(annotations: Mapping[str, str]) -> bool:
    """Whether the executor can parse its annotations file (no value holds ``=``)."""
    return not any("=" in str(value) for value in annotations.values())


def rest_timeout_ms(value: str) -> int | None:
    """Milliseconds of ``seldon.io/rest-timeout``; ``None`` for no timeout. Raises
    ``ValueError`` where the executor fails to start."""
    if value == "":
        return None
    ms = go_int(value, 32)
    return ms if ms > 0 else None


def grpc_timeout_ms(value: str) -> int | None:
    """Milliseconds of ``seldon.io/grpc-timeout`` (0 or less: an expired deadline);
    ``None`` when absent. Raises ``ValueError`` where the executor ignores it."""
    if value == "":
        return None
    return go_int(value, 64)
