"""``seldon-graph apply --traffic-only``: change only the live SeldonDeployment's
traffic weights, with a JSON patch guarded by ``test`` ops::

    [{"op": "test", "path": "/metadata/resourceVersion", "value": "<live>"},
     {"op": "test", "path": "/spec/predictors/<i>/name", "value": "<name>"},
     {"op": "replace", "path": "/spec/predictors/<i>/traffic", "value": <weight>}, ...]

When the object changed in between, the API server fails the ``test`` op with a 422
that need not say why (a 1.20 server answers only "the server rejected our request due
to an error in our request"), or reports a 409: the object is read again and, when its
resourceVersion moved on, the patch is rebuilt (graph/k8s/retry.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from graph.k8s.cluster import Cluster
from graph.k8s.errors import StaleObject
from graph.k8s.result import ApplyResult, identity
from graph.k8s.retry import moved_on, retrying
from model.errors import ConfigError, SeldonGraphError


def _check_same_predictors(wanted: Mapping[str, Any], live_names: list[str]) -> None:
    missing = sorted(set(wanted) - set(live_names))
    extra = sorted(set(live_names) - set(wanted))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"not in the cluster: {', '.join(missing)}")
        if extra:
            parts.append(f"only in the cluster: {', '.join(extra)}")
        raise ConfigError(
            f"the predictors differ ({'; '.join(parts)}): a traffic-only patch cannot add or "
            "remove predictors; run `seldon-graph apply FILE` without --traffic-only"
        )


def traffic_patch(live: Mapping[str, Any], doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch that gives ``live`` the traffic weights of ``doc`` (predictors
    matched by name), or [] when they already agree."""
    wanted = {str(p["name"]): p.get("traffic", 0) for p in doc["spec"]["predictors"]}
    live_preds = list((live.get("spec") or {}).get("predictors") or [])
    _check_same_predictors(wanted, [str(p.get("name")) for p in live_preds])
    ops: list[dict[str, Any]] = []
    for i, pred in enumerate(live_preds):
        name = str(pred.get("name"))
        if pred.get("traffic", 0) == wanted[name] and "traffic" in pred:
            continue
        if not ops:
            rv = str(live["metadata"]["resourceVersion"])
            ops.append({"op": "test", "path": "/metadata/resourceVersion", "value": rv})
        ops.append({"op": "test", "path": f"/spec/predictors/{i}/name", "value": name})
        op = "replace" if "traffic" in pred else "add"
        ops.append({"op": op, "path": f"/spec/predictors/{i}/traffic", "value": wanted[name]})
    return ops


def patch_traffic(
    doc: Mapping[str, Any],
    cluster: Cluster,
    namespace: str,
    dry_run: bool = False,
    tries: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    backoff_s: float = 0.1,
) -> ApplyResult:
    """Change only the live deployment's traffic weights to those of ``doc``."""
    name, _ = identity(doc, namespace)

    def attempt(n: int) -> ApplyResult:
        live = cluster.get(name, namespace)
        ops = traffic_patch(live, doc)
        rv = str(live["metadata"].get("resourceVersion", ""))
        if not ops:
            return ApplyResult("unchanged", name, namespace, rv, dry_run, n)
        try:
            patched = cluster.json_patch(name, namespace, ops, dry_run)
        except SeldonGraphError as exc:
            if moved_on(exc, cluster, name, namespace, rv):
                raise StaleObject(f"{namespace}/{name} changed after resourceVersion {rv}") from exc
            raise
        rv = str(patched.get("metadata", {}).get("resourceVersion", ""))
        return ApplyResult("patched", name, namespace, rv, dry_run, n, ops)

    return retrying(tries, sleep, backoff_s, attempt)
