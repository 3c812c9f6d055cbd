"""Draw the dashboard's main panels to a PNG from a real Prometheus (query_range +
matplotlib), for the README and for anyone without a Grafana at hand.

    python -m graph.monitoring.render_panels --prometheus-url http://127.0.0.1:9090 \\
        --deployment digits --minutes 10 --rate-interval 15s --out docs/img/dashboard.png

The queries are the dashboard's own (charts/seldon-graph/files/grafana-dashboard.json,
:mod:`graph.monitoring.panels`), with "All" predictors and nodes and ``$__rate_interval``
set by ``--rate-interval`` (Grafana uses at least four scrape intervals). Exit status: 0
written, 1 Prometheus unreachable or no panel has data, 2 usage error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graph.monitoring.config import check_duration
from graph.monitoring.panels import (
    MAIN_PANELS,
    PanelQuery,
    Series,
    load_dashboard,
    panel_queries,
    panel_series,
)
from graph.monitoring.query import PrometheusClient
from model.errors import SeldonGraphError

# How each Grafana unit is drawn: (scale, axis label)
UNITS = {"reqps": (1.0, "requests/s"), "percentunit": (100.0, "%"), "s": (1000.0, "ms")}


@dataclass(frozen=True)
class RenderSettings:
    prometheus_url: str
    out: Path
    deployment: str = "digits"
    minutes: float = 10.0
    rate_interval: str = "1m"
    end: float | None = None  # Unix seconds; None: now
    titles: tuple[str, ...] = MAIN_PANELS
    columns: int = 3


def collect(
    settings: RenderSettings, prom: PrometheusClient
) -> list[tuple[PanelQuery, list[Series]]]:
    """Each panel's series over the time range (step: about 200 points)."""
    variables = {"deployment": settings.deployment, "predictor": ".*", "node": ".*",
                 "__rate_interval": settings.rate_interval}  # fmt: skip
    panels = panel_queries(load_dashboard(), settings.titles, variables)
    end = settings.end if settings.end is not None else time.time()
    start = end - settings.minutes * 60
    step = max(1.0, round(settings.minutes * 60 / 200, 1))
    return [(panel, panel_series(prom, panel, start, end, step)) for panel in panels]


def draw(panels: Sequence[tuple[PanelQuery, list[Series]]], settings: RenderSettings) -> Path:
    """Write the panels as one PNG grid to ``settings.out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    rows = -(-len(panels) // settings.columns)
    fig, axes = plt.subplots(rows, settings.columns, figsize=(5.2 * settings.columns, 3.4 * rows),
                             squeeze=False)  # fmt: skip
    for ax, (panel, series) in zip(axes.flat, panels, strict=False):
        scale, label = UNITS.get(panel.unit, (1.0, ""))
        for s in series:
            times = [dt.datetime.fromtimestamp(t, dt.UTC) for t in s.times]
            ax.plot(times, [v * scale for v in s.values], label=s.name, linewidth=1.2)
        ax.set_title(panel.title, fontsize=10)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        if series:
            ax.legend(fontsize=6, loc="upper left")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(f"seldon-graph dashboard: deployment {settings.deployment} "
                 f"(rate interval {settings.rate_interval}, UTC)", fontsize=10)  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(settings.out, dpi=110)
    plt.close(fig)
    return settings.out


def render(settings: RenderSettings) -> dict[str, int]:
    """Query and draw; the number of series drawn per panel title."""
    panels = collect(settings, PrometheusClient(settings.prometheus_url))
    draw(panels, settings)
    return {panel.title: len(series) for panel, series in panels}


def parse_args(argv: Sequence[str] | None) -> RenderSettings:
    parser = argparse.ArgumentParser(prog="python -m graph.monitoring.render_panels",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--prometheus-url", required=True, help="e.g. http://127.0.0.1:9090")
    parser.add_argument("--out", required=True, type=Path, help="the PNG to write")
    parser.add_argument("--deployment", default="digits", help="$deployment (digits)")
    parser.add_argument("--minutes", type=float, default=10.0, help="time range, ending now (10)")
    parser.add_argument("--end", type=float, help="end of the range, Unix seconds (now)")
    parser.add_argument("--rate-interval", default="1m", help="$__rate_interval (1m)")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be > 0")
    try:
        check_duration(args.rate_interval, "--rate-interval")
    except SeldonGraphError as exc:
        parser.error(str(exc))
    return RenderSettings(args.prometheus_url, args.out, args.deployment, args.minutes,
                          args.rate_interval, args.end)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    try:
        drawn = render(settings)
    except SeldonGraphError as exc:
        print(f"render_panels: {exc}", file=sys.stderr)
        return 1
    for title, count in drawn.items():
        print(f"  {title}: {count} series")
    print(f"wrote {settings.out}")
    return 0 if any(drawn.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
