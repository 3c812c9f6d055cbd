"""Where the rollout reads its numbers: the local gateway's ``/metrics`` or Prometheus.

Both have the same two calls: ``begin()`` marks the start of an interval and
``read(start, window_s)`` gives each predictor's :class:`~graph.canary.health.PredictorHealth`
since then. Network failures raise :class:`~model.errors.Unavailable` (the rollout then
fails safe); the parsing and arithmetic live in :mod:`graph.canary.health`.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import requests

from graph.canary import health
from graph.canary.health import PredictorHealth, Snapshot
from model.errors import InvalidInput, Unavailable


class MetricsSource(Protocol):
    def begin(self) -> Any: ...

    def read(self, start: Any, window_s: float) -> dict[str, PredictorHealth]: ...


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

    def describe(self) -> str:
        return f"gateway metrics {self.url}"


class PrometheusSource:
    """Instant queries against a Prometheus server's HTTP API (``/api/v1/query``)."""

    def __init__(self, url: str, deployment: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/api/v1/query"
        self.deployment, self.timeout = deployment, timeout
        self._session = requests.Session()

    def begin(self) -> float:
        return time.time()

    def read(self, start: float, window_s: float) -> dict[str, PredictorHealth]:
        results = {}
        for key, query in health.prometheus_queries(self.deployment, window_s).items():
            reply = _get(self._session, self.url, self.timeout, query=query)
            try:
                results[key] = health.vector_values(reply.json())
            except (ValueError, InvalidInput) as exc:
                raise Unavailable(f"Prometheus query {query!r} failed: {exc}") from exc
        return health.health_from_results(results)

    def describe(self) -> str:
        return f"Prometheus {self.url}"
