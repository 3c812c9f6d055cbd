"""Small clients of the Prometheus and Alertmanager HTTP APIs.

:class:`PrometheusClient` runs PromQL (``/api/v1/query``, ``/api/v1/query_range``) and
lists alerts and rules; :class:`AlertmanagerClient` lists the alerts Alertmanager holds
(``/api/v2/alerts``). A network failure or a non-200 answer raises
:class:`~model.errors.Unavailable`; a query Prometheus rejects (HTTP 400/422: bad PromQL)
raises :class:`~model.errors.InvalidInput`. (The canary's
:class:`graph.canary.sources.PrometheusSource` is specialised to per-predictor health;
this is the general client.)
"""

from __future__ import annotations

from typing import Any

import requests

from model.errors import InvalidInput, Unavailable


def _request(session: requests.Session, url: str, timeout: float, **params: Any) -> Any:
    try:
        reply = session.get(url, params=params or None, timeout=timeout)
    except requests.RequestException as exc:
        raise Unavailable(f"cannot reach {url}: {exc}") from exc
    if reply.status_code in (400, 422):
        raise InvalidInput(f"{url} rejected {params}: {reply.text[:300]}")
    if reply.status_code != 200:
        raise Unavailable(f"{url} answered HTTP {reply.status_code}: {reply.text[:300]}")
    try:
        return reply.json()
    except ValueError as exc:
        raise Unavailable(f"{url} answered with invalid JSON: {exc}") from exc


class PrometheusClient:
    """PromQL and alert queries against one Prometheus server."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self._session = requests.Session()

    def _data(self, path: str, **params: Any) -> Any:
        body = _request(self._session, f"{self.url}{path}", self.timeout, **params)
        if not isinstance(body, dict) or body.get("status") != "success":
            raise Unavailable(f"{self.url}{path}: {body!r:.300}")
        return body.get("data")

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant vector: ``[{"metric": {labels}, "value": [t, "v"]}, ...]``."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return list(self._data("/api/v1/query", **params).get("result", []))

    def query_range(
        self, expr: str, start: float, end: float, step_s: float
    ) -> list[dict[str, Any]]:
        """Range matrix: ``[{"metric": {labels}, "values": [[t, "v"], ...]}, ...]``."""
        data = self._data(
            "/api/v1/query_range",
            query=expr,
            start=f"{start:.3f}",
            end=f"{end:.3f}",
            step=f"{step_s:g}",
        )
        return list(data.get("result", []))

    def scalar(self, expr: str) -> float | None:
        """The value of a one-series instant query (None when it returns nothing)."""
        result = self.query(expr)
        if len(result) > 1:
            raise InvalidInput(f"{expr!r} returned {len(result)} series, expected one")
        return float(result[0]["value"][1]) if result else None

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (``/api/v1/alerts``)."""
        return list(self._data("/api/v1/alerts").get("alerts", []))

    def rule_groups(self) -> list[dict[str, Any]]:
        """Loaded rule groups with their rules' health (``/api/v1/rules``)."""
        return list(self._data("/api/v1/rules").get("groups", []))

    def targets(self) -> list[dict[str, Any]]:
        """Active scrape targets with their health (``/api/v1/targets``)."""
        return list(self._data("/api/v1/targets").get("activeTargets", []))


class AlertmanagerClient:
    """Alerts held by one Alertmanager (API v2)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self._session = requests.Session()

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """Active alerts; ``filters`` are label matchers, e.g. ``alertname="X"``."""
        matchers = [f'{name}="{value}"' for name, value in filters.items()]
        body = _request(self._session, f"{self.url}/api/v2/alerts", self.timeout, filter=matchers)
        if not isinstance(body, list):
            raise Unavailable(f"{self.url}/api/v2/alerts: {body!r:.300}")
        return body
