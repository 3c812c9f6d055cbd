"""The verdict on one interval of a canary rollout (pure): roll back, wait, continue.

The order of the checks, and which numbers stand for main's, are described in
:mod:`graph.canary.rollout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from graph.canary.health import PredictorHealth
from model.errors import ConfigError

Verdict = Literal["continue", "wait", "rollback", "complete"]


@dataclass(frozen=True)
class Thresholds:
    error_margin: float = 0.01  # canary error rate may exceed main's by this much
    latency_ratio: float = 1.5  # canary p99 may be this many times main's
    min_requests: int = 20  # canary requests needed in an interval to judge it
    max_waits: int = 2  # extra intervals to wait for data (min_requests, a filled window)

    def __post_init__(self) -> None:
        if not 0 <= self.error_margin <= 1:
            raise ConfigError(f"--error-margin {self.error_margin}: must be within 0..1")
        if self.latency_ratio < 1:
            raise ConfigError(f"--latency-ratio {self.latency_ratio}: must be >= 1")
        if self.min_requests < 1 or self.max_waits < 0:
            raise ConfigError("--min-requests must be >= 1 and --max-waits >= 0")


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    reference: str  # whose numbers stood for main: "interval" | "baseline" | "none"


def decide(
    canary: PredictorHealth,
    main: PredictorHealth,
    thresholds: Thresholds,
    waits: int = 0,
    baseline: PredictorHealth | None = None,
) -> Decision:
    """The verdict for one interval (pure; see the module docstring for the order)."""
    t = thresholds
    ref, ref_name = (
        (main, "interval") if main.requests >= t.min_requests else (baseline, "baseline")
    )
    if ref is None:
        ref_name = "none"
    if canary.drift:
        p = "" if canary.drift_p_value is None else f" (p-value {canary.drift_p_value:.4g})"
        return Decision("rollback", f"the canary's drift detector reports drift{p}", ref_name)
    if canary.requests < t.min_requests:
        seen = f"{canary.requests:g} canary requests, fewer than --min-requests {t.min_requests}"
        if waits < t.max_waits:
            return Decision("wait", f"{seen}: waiting one more interval", ref_name)
        return Decision(
            "rollback", f"{seen} after {waits} extra interval(s): not enough data", ref_name
        )
    rate = canary.error_rate or 0.0
    ref_rate = (ref.error_rate or 0.0) if ref is not None else 0.0
    if rate > ref_rate + t.error_margin:
        return Decision(
            "rollback",
            f"canary error rate {rate:.4f} > main {ref_rate:.4f} + margin {t.error_margin}",
            ref_name,
        )
    errors = f"error rate {rate:.4f} (main {ref_rate:.4f})"
    if ref_name != "interval" or main.p99 is None or canary.p99 is None:
        return Decision(
            "continue", f"healthy: {errors}, no drift; no current main p99 to compare", ref_name
        )
    if canary.p99 > main.p99 * t.latency_ratio:
        return Decision(
            "rollback",
            f"canary p99 {canary.p99 * 1000:.1f} ms > main p99 {main.p99 * 1000:.1f} ms x "
            f"{t.latency_ratio}",
            ref_name,
        )
    return Decision(
        "continue",
        f"healthy: {errors}, p99 {canary.p99 * 1000:.1f} ms (main "
        f"{main.p99 * 1000:.1f} ms), no drift",
        ref_name,
    )
