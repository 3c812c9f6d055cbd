"""Where the rollout reads its numbers: the local gateway's ``/metrics`` or Prometheus.

Both have the same three calls: ``begin()`` marks the start of an interval,
``read(start, window_s)`` gives each predictor's :class:`~graph.canary.health.PredictorHealth`
since then, and ``details()`` what the last read was based on (for the audit log). Network
failures raise :class:`~model.errors.Unavailable` (the rollout then fails safe); a
Prometheus window that is not filled yet raises its subclass
:class:`~graph.canary.window.WindowNotFilled` (the rollout waits). The parsing and
arithmetic live in :mod:`graph.canary.health` and :mod:`graph.canary.window`.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import requests

from graph.canary import health, window
from graph.canary.health import PredictorHealth, Snapshot
from model.errors import InvalidInput, Unavailable


class MetricsSource(Protocol):
    def begin(self) -> Any: ...

    def read(self, start: Any, window_s: float) -> dict[str, PredictorHealth]: ...

    def details(self) -> dict[str, Any]: ...


def _get(session: requests.Session, url: str, timeout: float, **params: str) -> requests.Response:
    try:
        reply = session.get(url, params=params or None, timeout=timeout)
    except requests.RequestException as exc:
        raise Unavailable(f"cannot read metrics from {url}: {exc}") from exc
    if reply.status_code != 200:
        raise Unavailable(f"{url} answered HTTP {reply.status_code}: {reply.text[:200]}")
    return reply


class GatewaySource:
    """Scrapes of the local gateway's Prometheus text (``.../metrics``)."""

    def __init__(self, url: str, deployment: str, timeout: float = 5.0) -> None:
        self.url, self.deployment, self.timeout = url, deployment, timeout
        self._session = requests.Session()

    def snapshot(self) -> Snapshot:
        text = _get(self._session, self.url, self.timeout).text
        return health.parse_gateway_metrics(text, self.deployment)

    def begin(self) -> Snapshot:
        return self.snapshot()

    def read(self, start: Snapshot, window_s: float) -> dict[str, PredictorHealth]:
        return health.health_between(start, self.snapshot())

    def details(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return f"gateway metrics {self.url}"


class PrometheusSource:
    """Instant queries against a Prometheus server's HTTP API (``/api/v1/query``), all of
    one read evaluated at the same time; the window must be filled
    (:mod:`graph.canary.window`) before its numbers are read."""

    def __init__(self, url: str, deployment: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/api/v1/query"
        self.deployment, self.timeout = deployment, timeout
        self._session = requests.Session()
        self.last_coverage: window.WindowCoverage | None = None

    def begin(self) -> float:
        return time.time()

    def _vectors(
        self, queries: dict[str, str], at: float, by: str | None
    ) -> dict[str, dict[str, float]]:
        results = {}
        for key, query in queries.items():
            reply = _get(self._session, self.url, self.timeout, query=query, time=f"{at:.3f}")
            try:
                results[key] = health.vector_values(reply.json(), by)
            except (ValueError, InvalidInput) as exc:
                raise Unavailable(f"Prometheus query {query!r} failed: {exc}") from exc
        return results

    def read(self, start: float, window_s: float) -> dict[str, PredictorHealth]:
        at = time.time()
        answers = self._vectors(window.window_queries(self.deployment, window_s), at, None)
        covered = window.coverage(self.deployment, window_s, at, answers)
        self.last_coverage = covered
        if not covered.filled:
            raise window.WindowNotFilled(covered.reason(), covered.to_dict())
        queries = health.prometheus_queries(self.deployment, window_s)
        return health.health_from_results(self._vectors(queries, at, "predictor_name"))

    def details(self) -> dict[str, Any]:
        covered = self.last_coverage
        return {} if covered is None else {"prometheus": covered.to_dict()}

    def describe(self) -> str:
        return f"Prometheus {self.url}"
