"""The PNG: throughput and p99 latency against concurrency, one line per scenario."""

from __future__ import annotations

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
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for label, points in sorted(lines.items()):
        xs = [p[0] for p in points]
        style = "--" if "grpc" in label else "-"
        left.plot(xs, [p[1] for p in points], style, marker="o", label=label)
        right.plot(xs, [p[2] for p in points], style, marker="o", label=label)
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
    right.set_yscale("log")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    machine = doc.get("machine", {})
    fig.suptitle(f"{machine.get('cpu', '')}, {machine.get('cores', '?')} cores", fontsize=9)
    fig.tight_layout(rect=(0, 0.12, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
