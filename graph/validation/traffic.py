"""The traffic rules of a SeldonDeployment's predictors (canary and shadow), in one place.

Errors, as the operator's webhook (``checkTraffic``, ``validateShadow``) and the CRD schema
apply them: ``traffic`` is an integer and ``shadow`` a boolean; at most one predictor is
a shadow, its traffic (a mirror percentage, outside the sum) within 0..100, and it is
never the only predictor; the traffic of the non-shadow ("live") predictors sums to 100
when there are several; a lone predictor's traffic is 0 ("unset") or at least 100.
Warnings, this project's stricter rules: every traffic within 0..100, a shadow beside no
live predictor, and a single live predictor beside a shadow taking 100 (or 0).

:func:`traffic_findings` lists every broken rule (``seldon-graph validate``);
:func:`check_traffic` raises the first as a :class:`~model.errors.ManifestError` (canary
edits, runtime weight changes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graph.manifest import WARNING, Finding

PREDICTORS_PATH = "spec.predictors"
TRAFFIC_SUM_PATH = f"{PREDICTORS_PATH}[*].traffic"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field_findings(
    predictors: Sequence[tuple[int, Mapping[str, Any]]], path: str
) -> list[Finding]:
    out = []
    for i, pred in predictors:
        if "shadow" in pred and not isinstance(pred["shadow"], bool):
            message = f"must be true or false, not {pred['shadow']!r}"
            out.append(Finding(f"{path}[{i}].shadow", message))
        value = pred.get("traffic", 0)
        if not _is_int(value):
            out.append(Finding(f"{path}[{i}].traffic", f"must be an integer, not {value!r}"))
        elif not 0 <= value <= 100:
            message = f"must be within 0..100, not {value!r}"
            shadow = pred.get("shadow") is True  # the operator checks a shadow's range only
            out.append(Finding(f"{path}[{i}].traffic", message, "error" if shadow else WARNING))
    return out


def _shadow_findings(
    shadows: list[int], live: list[tuple[int, Mapping[str, Any]]], path: str
) -> list[Finding]:
    out = [
        Finding(f"{path}[{i}].shadow", "at most one predictor may be a shadow") for i in shadows[1:]
    ]
    if shadows and not live:
        message = "a shadow cannot be the only predictor: it mirrors a live one"
        alone = len(shadows) == 1  # the operator's rule; several shadows: our own
        out.append(Finding(f"{path}[{shadows[0]}].shadow", message, "error" if alone else WARNING))
    return out


def _sum_findings(
    live: list[tuple[int, Mapping[str, Any]]], shadow_names: list[str], path: str
) -> list[Finding]:
    weights = [(str(pred.get("name")), pred.get("traffic", 0)) for _, pred in live]
    if not all(_is_int(w) for _, w in weights):
        return []
    total = sum(w for _, w in weights)
    note = (
        f"; {', '.join(shadow_names)} is a shadow: its traffic is a mirror percentage, "
        "not part of the sum"
        if shadow_names
        else ""
    )
    if len(live) > 1 and total != 100:
        shares = ", ".join(f"{name}={w}" for name, w in weights)
        message = (
            f"the traffic of the non-shadow predictors must sum to 100, not {total} "
            f"({shares}){note}"
        )
        return [Finding(f"{path}[*].traffic", message)]
    if len(live) == 1 and total not in (0, 100):
        message = (
            f"{weights[0][0]!r} is the only non-shadow predictor: it takes all traffic, "
            f"set 100 (or leave 0), not {total}{note}"
        )
        # the operator refuses 1..99 for a lone predictor; the rest is our own rule
        refused = not shadow_names and 0 < total < 100
        return [Finding(f"{path}[{live[0][0]}].traffic", message, "error" if refused else WARNING)]
    return []


def traffic_findings(
    predictors: Sequence[tuple[int, Mapping[str, Any]]], path: str = PREDICTORS_PATH
) -> list[Finding]:
    """Every traffic rule the predictors break; ``predictors`` pairs each with its index
    in the list at ``path`` (non-mapping entries left out)."""
    shadows = [i for i, pred in predictors if pred.get("shadow") is True]
    live = [(i, pred) for i, pred in predictors if pred.get("shadow") is not True]
    shadow_names = [str(pred.get("name")) for _, pred in predictors if pred.get("shadow") is True]
    return (
        _field_findings(predictors, path)
        + _shadow_findings(shadows, live, path)
        + _sum_findings(live, shadow_names, path)
    )


def check_traffic(preds: Sequence[Mapping[str, Any]], path: str = PREDICTORS_PATH) -> None:
    """Raise a ``ManifestError`` (with its YAML path) for the first traffic rule broken."""
    found = traffic_findings(list(enumerate(preds)), path)
    if found:
        raise found[0].to_error()
