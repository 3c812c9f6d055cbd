"""The PNG: throughput and p99 latency against concurrency, one line per scenario."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def series(rows: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float, float]]]:
    """label -> sorted (concurrency, throughput, p99) of every served case with >1 level."""
    out: dict[str, list[tuple[int, float, float]]] = {}
    for r in rows:
        if r["transport"] == "inprocess":
            continue
        label = f"{r['name']} {r['transport']}"
        if r["name"] == "payload":
            label = f"payload {r['target']} {r['payload']}"
        out.setdefault(label, []).append((r["concurrency"], r["throughput_rps"], r["p99_ms"]))
    return {k: sorted(v) for k, v in out.items() if len(v) > 1}


def plot(doc: dict[str, Any], path: Path) -> Path:
    """Write the figure of ``doc`` (the report JSON) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = series(doc["scenarios"])

    # One colour per system (the label without its transport), dashed for gRPC: 20
    # distinct colours, so two systems never share one.
    def system(label: str) -> str:
        return label.removesuffix(" grpc").removesuffix(" rest")

    systems = sorted({system(label) for label in lines})
    palette = plt.get_cmap("tab20")  # 20 listed colours, indexed 0..19
    colour = {name: palette(i % palette.N) for i, name in enumerate(systems)}
    legend_rows = math.ceil(len(lines) / 4)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5 + 0.22 * legend_rows))
    for label, points in sorted(lines.items()):
        xs = [p[0] for p in points]
        style = "--" if label.endswith(" grpc") else "-"
        kwargs = {"marker": "o", "label": label, "color": colour[system(label)]}
        left.plot(xs, [p[1] for p in points], style, **kwargs)
        right.plot(xs, [p[2] for p in points], style, **kwargs)
    for r in doc["scenarios"]:
        if r["transport"] == "inprocess" and r["payload"] in ("batch-1", "batch-formed"):
            left.axhline(r["throughput_rps"], color="grey", linestyle=":", linewidth=1)
            left.annotate(f"raw {r['payload']} ({r.get('batch_size')})",
                          (1, r["throughput_rps"]), fontsize=7, color="grey")  # fmt: skip
    for ax, title, unit in ((left, "Throughput", "requests/s"), (right, "p99 latency", "ms")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.set_yscale("log")  # ratios read as distances
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    machine = doc.get("machine", {})
    fig.suptitle(f"{machine.get('cpu', '')}, {machine.get('cores', '?')} cores", fontsize=9)
    legend_share = (0.1 + 0.2 * legend_rows) / fig.get_figheight()
    fig.tight_layout(rect=(0, legend_share, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
