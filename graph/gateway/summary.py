"""A Prometheus summary with quantiles, as Go's client_golang exports them.

``prometheus_client``'s ``Summary`` has only ``_count`` and ``_sum``; Seldon's executor
exports quantiles too (``executor/api/metric/constants.go``: objectives 0.5, 0.75, 0.9,
0.98, 0.99, 1.0, over client_golang's default 10-minute window). :class:`QuantileSummary`
keeps the observations of the last ``max_age_s`` seconds (at most ``max_samples`` per label
set) and answers exact quantiles of them; ``_count`` and ``_sum`` cover every observation.
An empty window gives NaN quantiles, as Go does.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric


class _Series:
    def __init__(self, max_samples: int) -> None:
        self.window: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self.count = 0
        self.total = 0.0


class QuantileSummary:
    """``name`` with labels ``labelnames``; ``observe(labels, seconds)``."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        quantiles: Sequence[float],
        registry: CollectorRegistry,
        *,
        max_age_s: float = 600.0,
        max_samples: int = 10_000,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.quantiles = tuple(quantiles)
        self._max_age = max_age_s
        self._max_samples = max_samples
        self._series: dict[tuple[str, ...], _Series] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def observe(self, labels: Sequence[str], value: float) -> None:
        key = tuple(str(v) for v in labels)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series(self._max_samples)
            series.window.append((time.monotonic(), value))
            series.count += 1
            series.total += value

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self.name, self.documentation, "summary")
        horizon = time.monotonic() - self._max_age
        with self._lock:
            snapshot = []
            for key, series in self._series.items():
                while series.window and series.window[0][0] < horizon:
                    series.window.popleft()
                values = sorted(v for _, v in series.window)
                snapshot.append((key, values, series.count, series.total))
        for key, values, count, total in snapshot:
            labels = dict(zip(self.labelnames, key, strict=True))
            for q in self.quantiles:
                metric.add_sample(self.name, {**labels, "quantile": str(q)}, _quantile(values, q))
            metric.add_sample(f"{self.name}_sum", labels, total)
            metric.add_sample(f"{self.name}_count", labels, float(count))
        yield metric

    def describe(self) -> Iterator[Metric]:
        yield Metric(self.name, self.documentation, "summary")


def _quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted ``values`` (nearest rank); NaN when empty."""
    if not values:
        return math.nan
    rank = min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))
    return values[rank]
