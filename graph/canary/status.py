"""``seldon-graph canary status``: one row per predictor (name, traffic, shadow, model
version, role) of a SeldonDeployment or of the chart's values, and the text table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graph.canary.weights import is_shadow, predictors_of, traffic_of


@dataclass(frozen=True)
class PredictorRow:
    """One line of ``canary status``."""

    name: str
    traffic: int
    shadow: bool
    version: str
    role: str  # main | canary | shadow | "" (another live predictor)


def _model_version(pred: Mapping[str, Any]) -> str:
    version = (pred.get("labels") or {}).get("version")
    if version:
        return str(version)
    stack = [pred.get("graph")]
    while stack:
        node = stack.pop(0)
        if not isinstance(node, Mapping):
            continue
        if node.get("type") == "MODEL":
            if node.get("modelUri"):
                return str(node["modelUri"]).rstrip("/").rsplit("/", 1)[-1]
            for param in node.get("parameters") or ():
                if isinstance(param, Mapping) and param.get("name") in ("version", "model_version"):
                    return str(param.get("value"))
        stack.extend(node.get("children") or ())
    return "-"


def rows_of(
    preds: Sequence[Mapping[str, Any]], version_key: str | None = None
) -> list[PredictorRow]:
    """Status rows; ``version_key`` reads the version from a field (``modelVersion`` in
    the chart's values) instead of labels / the model node."""
    live = [p for p in preds if not is_shadow(p)]
    main = None
    if live:
        named = [p for p in live if p.get("name") == "main"]
        main = named[0] if named else live[0]
    out = []
    for pred in preds:
        shadow = is_shadow(pred)
        role = "shadow" if shadow else "main" if pred is main else "canary"
        version = str(pred.get(version_key) or "-") if version_key else _model_version(pred)
        out.append(PredictorRow(str(pred.get("name")), traffic_of(pred), shadow, version, role))
    return out


def status(doc: Any) -> list[PredictorRow]:
    """One row per predictor: name, traffic, shadow, model version, role."""
    return rows_of(predictors_of(doc))


def format_rows(rows: Sequence[PredictorRow]) -> str:
    """The rows as an aligned text table."""
    table = [("PREDICTOR", "TRAFFIC", "SHADOW", "VERSION", "ROLE")]
    for r in rows:
        traffic = f"mirror {r.traffic or 100}%" if r.shadow else f"{r.traffic}%"
        table.append((r.name, traffic, "yes" if r.shadow else "no", r.version, r.role))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    )
