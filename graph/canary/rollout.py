"""A progressive canary rollout gated by metrics, with automatic rollback.

For each step weight (e.g. 10, 25, 50, 100) the rollout writes the canary's weight (main
takes the rest), waits one interval and reads both predictors' numbers over it, then
:func:`graph.canary.decision.decide` says whether to go on:

0. **window not filled** — the source cannot cover the interval yet (Prometheus holds no
   sample from its start, :mod:`graph.canary.window`): wait and start the interval
   again (its numbers would read low), at most ``max_waits`` times, then roll back;
1. **drift** — the canary's drift detector reports drift (latest verdict): roll back;
2. **too little data** — fewer than ``min_requests`` canary requests: wait one more
   interval (the window grows from the step's start), at most ``max_waits`` times, then
   roll back (fail safe: an unobserved canary is never promoted);
3. **errors** — canary error rate > main's + ``error_margin``: roll back;
4. **latency** — canary p99 > main's p99 x ``latency_ratio``: roll back;
5. otherwise continue (after the last step: complete).

Main's error rate comes from the same interval when main served ``min_requests`` in it,
else from the last interval where it did (the *baseline*: at 100% canary, main gets
nothing); with neither, the canary's error rate must stay within ``error_margin`` of 0.
Latency is compared only within the same interval: a p99 taken under another traffic
share is not comparable (the canary at 100% carries all the load), so without a current
main p99 the latency check is skipped and the record says so. A failed metrics read, a
failed edit and Ctrl-C also roll back. Every decision is written to the audit log with its numbers.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from graph.canary.audit import AuditLog
from graph.canary.decision import Thresholds, Verdict, decide
from graph.canary.health import PredictorHealth
from graph.canary.sources import MetricsSource
from graph.canary.window import WindowNotFilled
from model.errors import ConfigError, SeldonGraphError


def parse_steps(text: str) -> tuple[int, ...]:
    """``"10,25,50,100"`` -> (10, 25, 50, 100): increasing whole percentages within 1..100."""
    try:
        steps = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ConfigError(
            f"--steps {text!r}: expected whole percentages, e.g. 10,25,50,100"
        ) from None
    if not steps or any(not 0 < s <= 100 for s in steps):
        raise ConfigError(f"--steps {text!r}: each step must be within 1..100")
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise ConfigError(f"--steps {text!r}: steps must increase")
    return steps


def parse_duration(text: str) -> float:
    """``"60s"``, ``"2m"``, ``"500ms"`` or plain seconds -> seconds (> 0)."""
    raw = text.strip().lower()
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if raw.endswith(suffix):
            raw, factor = raw[: -len(suffix)], scale
            break
    else:
        factor = 1.0
    try:
        value = float(raw) * factor
    except ValueError:
        raise ConfigError(f"{text!r} is not a duration (e.g. 60s, 2m, 500ms)") from None
    if not value > 0:
        raise ConfigError(f"{text!r}: a duration must be > 0")
    return value


class Target(Protocol):
    canary: str
    main: str

    def set_canary(self, weight: int) -> dict[str, int]: ...

    def rollback(self) -> dict[str, int]: ...

    def promote(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class RolloutSettings:
    steps: tuple[int, ...]
    interval_s: float
    thresholds: Thresholds = field(default_factory=Thresholds)
    promote: bool = False  # after the last step, the canary's graph becomes main's


@dataclass
class Outcome:
    status: Literal["complete", "promoted", "rolled_back", "interrupted"]
    reason: str
    step: int
    weights: dict[str, int]

    @property
    def ok(self) -> bool:
        return self.status in ("complete", "promoted")


def run_rollout(
    settings: RolloutSettings,
    target: Target,
    source: MetricsSource,
    audit: AuditLog,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Step the canary's weight up while it stays healthy; roll back when it does not."""
    try:
        return _Run(settings, target, source, audit, sleep, clock).steps()
    except KeyboardInterrupt:
        step = len([r for r in audit.records if r["event"] == "step"])
        weights = _rollback(target, audit, step, "interrupted (Ctrl-C): rolled back")
        return Outcome("interrupted", "interrupted", step, weights)


@dataclass
class _Run:
    """One rollout: its steps, each checked until a verdict other than ``wait``."""

    settings: RolloutSettings
    target: Target
    source: MetricsSource
    audit: AuditLog
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    baseline: PredictorHealth | None = None  # main's numbers at the last healthy check

    def steps(self) -> Outcome:
        weights: dict[str, int] = {}
        for index, canary_weight in enumerate(self.settings.steps, start=1):
            step = self._step(index, canary_weight)
            if isinstance(step, Outcome):
                return step
            weights = step
        return self._finish(weights)

    def _step(self, index: int, canary_weight: int) -> Outcome | dict[str, int]:
        """Set the step's weights and check them; the weights, or the rollback's outcome."""
        try:
            weights = self.target.set_canary(canary_weight)
            start, t0 = self.source.begin(), self.clock()
        except SeldonGraphError as exc:
            return self._rolled_back(index, f"step {canary_weight}% failed: {exc}")
        self.audit.write("step", step=index, weights=weights)
        waits = 0
        while True:
            self.sleep(self.settings.interval_s)
            try:
                numbers = self.source.read(start, self.clock() - t0)
            except WindowNotFilled as exc:
                if self._not_filled(index, weights, exc, waits, t0) == "rollback":
                    return self._rolled_back(index, f"window not filled after {waits} wait(s)")
                waits += 1
                start, t0 = self.source.begin(), self.clock()  # the interval starts again
                continue
            except SeldonGraphError as exc:
                return self._rolled_back(index, f"metrics unavailable: {exc}")
            verdict, reason, main = self._check(index, weights, numbers, waits, t0)
            if verdict == "wait":
                waits += 1
                continue
            if verdict == "rollback":
                return self._rolled_back(index, reason)
            if main.requests >= self.settings.thresholds.min_requests:
                self.baseline = main
            return weights

    def _check(
        self,
        index: int,
        weights: dict[str, int],
        numbers: Mapping[str, PredictorHealth],
        waits: int,
        t0: float,
    ) -> tuple[Verdict, str, PredictorHealth]:
        """Decide on one interval's numbers and audit it; (verdict, reason, main's numbers)."""
        th = self.settings.thresholds
        can = numbers.get(self.target.canary, PredictorHealth())
        main = numbers.get(self.target.main, PredictorHealth())
        decision = decide(can, main, th, waits, self.baseline)
        verdict: Verdict = decision.verdict
        if verdict == "continue" and index == len(self.settings.steps):
            verdict = "complete"
        self.audit.write(
            "decision", step=index, weights=weights, window_s=round(self.clock() - t0, 3),
            predictors={n: h.to_dict() for n, h in sorted(numbers.items())},
            reference=decision.reference,
            baseline=None if self.baseline is None else self.baseline.to_dict(),
            thresholds=asdict(th), verdict=verdict, reason=decision.reason,
            **self.source.details(),
        )  # fmt: skip
        return verdict, decision.reason, main

    def _not_filled(
        self, index: int, weights: dict[str, int], exc: WindowNotFilled, waits: int, t0: float
    ) -> Verdict:
        """Audit a window the source cannot judge yet: wait, or roll back after max_waits."""
        waiting = waits < self.settings.thresholds.max_waits
        verdict: Verdict = "wait" if waiting else "rollback"
        reason = (
            f"{exc}: waiting one more interval, started again"
            if waiting
            else f"{exc}, after {waits} extra interval(s): not enough data"
        )
        self.audit.write(
            "decision", step=index, weights=weights, window_s=round(self.clock() - t0, 3),
            predictors={}, prometheus=exc.numbers, thresholds=asdict(self.settings.thresholds),
            verdict=verdict, reason=reason,
        )  # fmt: skip
        return verdict

    def _rolled_back(self, index: int, reason: str) -> Outcome:
        weights = _rollback(self.target, self.audit, index, reason)
        return Outcome("rolled_back", reason, index, weights)

    def _finish(self, weights: dict[str, int]) -> Outcome:
        last = len(self.settings.steps)
        if self.settings.promote:
            weights = self.target.promote()
            self.audit.write("promote", step=last, weights=weights, reason="all steps healthy")
            return Outcome("promoted", "all steps healthy", last, weights)
        self.audit.write("complete", step=last, weights=weights, reason="all steps healthy")
        return Outcome("complete", "all steps healthy", last, weights)


def _rollback(target: Target, audit: AuditLog, step: int, reason: str) -> dict[str, int]:
    try:
        weights = target.rollback()
    except SeldonGraphError as exc:
        audit.write("rollback_failed", step=step, reason=reason, error=str(exc))
        raise
    audit.write("rollback", step=step, weights=weights, reason=reason)
    return weights


def summary(outcome: Outcome, records: Sequence[dict[str, Any]]) -> str:
    """A short human summary of a finished rollout."""
    shares = ", ".join(f"{k}={v}" for k, v in outcome.weights.items())
    checks = sum(1 for r in records if r["event"] == "decision")
    where = f"{outcome.status} at step {outcome.step} ({shares})"
    return f"{where} after {checks} check(s): {outcome.reason}"
