"""The Grafana dashboard's panels as plain queries, evaluated against Prometheus (pure
data; :mod:`graph.monitoring.render_panels` draws them).

``panel_queries(dashboard, titles, variables)`` picks panels by title and substitutes the
dashboard variables in each target's PromQL (``$deployment``, ``$predictor``, ``$node``,
``$__rate_interval``), as Grafana would with "All" selected. ``panel_series`` runs them
as ``query_range`` and names each series with the target's ``legendFormat``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.monitoring.files import DASHBOARD_FILE
from graph.monitoring.query import PrometheusClient
from model.errors import ConfigError

# The panels of the README's picture: traffic, errors, latency, drift and batching.
MAIN_PANELS = (
    "Request rate",
    "Error ratio",
    "Latency p50 / p99",
    "Drift p-value and threshold",
    "Drift distance and verdict",
    "Batch size",
)
_LEGEND = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class PanelQuery:
    title: str
    unit: str  # Grafana's unit id: reqps, percentunit, s, none
    targets: tuple[tuple[str, str], ...]  # (PromQL, legendFormat)


@dataclass
class Series:
    name: str
    times: list[float] = field(default_factory=list)  # Unix seconds
    values: list[float] = field(default_factory=list)


def load_dashboard(path: Path = DASHBOARD_FILE) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the dashboard {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("panels"), list):
        raise ConfigError(f"{path}: not a Grafana dashboard (no panels)")
    return data


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """``expr`` with each ``$name`` / ``${name}`` of ``variables`` replaced (longest first)."""
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", variables[name])
        expr = expr.replace("$" + name, variables[name])
    return expr


def panel_queries(
    dashboard: Mapping[str, Any], titles: Sequence[str], variables: Mapping[str, str]
) -> list[PanelQuery]:
    """The panels named ``titles`` (in that order) with the variables substituted."""
    by_title = {p.get("title"): p for p in dashboard["panels"] if p.get("type") == "timeseries"}
    missing = [t for t in titles if t not in by_title]
    if missing:
        raise ConfigError(f"the dashboard has no time-series panel {', '.join(missing)}")
    out = []
    for title in titles:
        panel = by_title[title]
        unit = (panel.get("fieldConfig") or {}).get("defaults", {}).get("unit", "none")
        targets = tuple(
            (substitute(t["expr"], variables), str(t.get("legendFormat") or ""))
            for t in panel.get("targets", ())
            if t.get("expr")
        )
        out.append(PanelQuery(title, unit, targets))
    return out


def legend(fmt: str, labels: Mapping[str, str]) -> str:
    """Grafana's ``legendFormat``: ``{{label}}`` replaced by the series' label value."""
    if not fmt:
        return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), fmt)


def panel_series(
    prom: PrometheusClient, panel: PanelQuery, start: float, end: float, step_s: float
) -> list[Series]:
    """Every series of ``panel`` over ``[start, end]`` (NaN points dropped)."""
    out = []
    for expr, fmt in panel.targets:
        for result in prom.query_range(expr, start, end, step_s):
            series = Series(legend(fmt, result.get("metric", {})))
            for t, v in result.get("values", []):
                value = float(v)
                if value == value:  # not NaN
                    series.times.append(float(t))
                    series.values.append(value)
            if series.times:
                out.append(series)
    return out
