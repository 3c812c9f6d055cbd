"""Per-predictor health over an interval: requests, errors, p99 latency and drift.

Two sources give the same :class:`PredictorHealth` numbers:

- **The local gateway** (``seldon-graph serve``): two scrapes of its Prometheus ``/metrics``
  text, parsed into :class:`Snapshot` and subtracted (:func:`health_between`). Series used
  (label ``deployment`` = the SeldonDeployment, ``method="predict"``, every transport
  summed): ``seldon_graph_requests_total``, ``seldon_graph_request_errors_total`` (every
  ``code``), ``seldon_graph_request_seconds_bucket`` (p99 from the bucket increases, with
  the interpolation of PromQL's ``histogram_quantile``), and the gauges
  ``seldon_graph_drift_is_drift`` / ``seldon_graph_drift_p_value`` /
  ``seldon_graph_drift_window`` (the latest drift verdict the gateway saw tagged on a
  predictor's reply; read from the second scrape). A counter that went down (the gateway
  restarted) counts from zero, as Prometheus' ``increase`` does.
- **A Prometheus server** (clusters): :func:`prometheus_queries` builds the PromQL below
  for Seldon's executor and drift metrics, :func:`health_from_results` turns the answers
  into the same numbers. ``W`` is the interval in whole seconds::

    requests: sum by (predictor_name) (increase(
        seldon_api_executor_server_requests_seconds_count{deployment_name="D",P}[Ws]))
    errors:   sum by (predictor_name) (increase(
        seldon_api_executor_server_requests_seconds_count{deployment_name="D",P,
        code!~"2..|OK"}[Ws]))
    p99:      histogram_quantile(0.99, sum by (predictor_name, le) (rate(
        seldon_api_executor_server_requests_seconds_bucket{deployment_name="D",P}[Ws])))
    drift:    max by (predictor_name) (seldon_metric_drift_is_drift{deployment_name="D"})
    p_value:  min by (predictor_name) (seldon_metric_drift_p_val{deployment_name="D"})

``P`` = ``service=~"predictions|/seldon.protos.Seldon/Predict"``: prediction calls only
(REST and gRPC), as the executor labels them; feedback, metadata and status calls are not
the canary's traffic.

An error is any reply that is not a success (4xx and 5xx alike): client errors reach both
predictors alike, so the canary-versus-main comparison cancels them out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from graph.gateway import metrics as gateway_metrics
from model.errors import InvalidInput

# The gateway's series, by the names graph.gateway.metrics defines.
REQUESTS = gateway_metrics.REQUESTS
ERRORS = gateway_metrics.REQUEST_ERRORS
BUCKETS = gateway_metrics.REQUEST_SECONDS + "_bucket"
DRIFT = gateway_metrics.DRIFT_IS_DRIFT
DRIFT_P = gateway_metrics.DRIFT_P_VALUE
DRIFT_WINDOW = gateway_metrics.DRIFT_WINDOW
QUANTILE = 0.99


@dataclass(frozen=True)
class PredictorHealth:
    """One predictor's numbers over one interval. ``p99`` is in seconds (None: no
    requests); ``drift`` is the latest verdict (None: no window tested yet / unknown)."""

    requests: float = 0.0
    errors: float = 0.0
    p99: float | None = None
    drift: bool | None = None
    drift_p_value: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    def to_dict(self) -> dict[str, object]:
        rate = self.error_rate
        return {
            "requests": round(self.requests, 3),
            "errors": round(self.errors, 3),
            "error_rate": None if rate is None else round(rate, 6),
            "p99_s": None if self.p99 is None else round(self.p99, 6),
            "drift": self.drift,
            "drift_p_value": self.drift_p_value,
        }


@dataclass
class Snapshot:
    """The gateway's counters for one deployment at one moment, per predictor."""

    requests: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    errors: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    buckets: dict[str, dict[float, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )
    drift: dict[str, float] = field(default_factory=dict)
    drift_p: dict[str, float] = field(default_factory=dict)
    drift_window: dict[str, float] = field(default_factory=dict)


def parse_gateway_metrics(text: str, deployment: str, method: str = "predict") -> Snapshot:
    """The gateway's ``/metrics`` text -> counters of ``deployment``'s predictors."""
    snap = Snapshot()
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise InvalidInput(f"the metrics text does not parse: {exc}") from exc
    for family in families:
        for sample in family.samples:
            name, labels, value = sample[0], sample[1], float(sample[2])
            if labels.get("deployment") != deployment or "predictor" not in labels:
                continue
            pred = labels["predictor"]
            if name in (DRIFT, DRIFT_P, DRIFT_WINDOW):
                target = {DRIFT: snap.drift, DRIFT_P: snap.drift_p, DRIFT_WINDOW: snap.drift_window}
                target[name][pred] = value
                continue
            if labels.get("method") != method:
                continue
            if name == REQUESTS:
                snap.requests[pred] += value
            elif name == ERRORS:
                snap.errors[pred] += value
            elif name == BUCKETS:
                snap.buckets[pred][_bound(labels.get("le", "+Inf"))] += value
    return snap


def _bound(le: str) -> float:
    return math.inf if le in ("+Inf", "Inf", "inf") else float(le)


def _increase(after: float, before: float) -> float:
    return after - before if after >= before else after  # a reset counts from zero


def histogram_quantile(q: float, cumulative: Mapping[float, float]) -> float | None:
    """PromQL's ``histogram_quantile`` over cumulative bucket counts ``{le: count}``:
    linear interpolation inside the bucket holding rank ``q * total``; the highest finite
    bound when it falls in ``+Inf``; None without observations."""
    bounds = sorted(cumulative)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    total = cumulative[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if math.isinf(bound):
                return prev_bound
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return prev_bound


def health_between(before: Snapshot, after: Snapshot) -> dict[str, PredictorHealth]:
    """Each predictor's health over the interval between two snapshots."""
    names = set(after.requests) | set(after.drift)
    out: dict[str, PredictorHealth] = {}
    for pred in sorted(names):
        requests = _increase(after.requests.get(pred, 0.0), before.requests.get(pred, 0.0))
        errors = _increase(after.errors.get(pred, 0.0), before.errors.get(pred, 0.0))
        old = before.buckets.get(pred, {})
        delta = {
            le: _increase(c, old.get(le, 0.0)) for le, c in after.buckets.get(pred, {}).items()
        }
        window = after.drift_window.get(pred, 0.0)
        drift = None if pred not in after.drift or window <= 0 else after.drift[pred] >= 1.0
        p_value = after.drift_p.get(pred) if drift is not None else None
        out[pred] = PredictorHealth(
            requests, min(errors, requests), histogram_quantile(QUANTILE, delta), drift, p_value
        )
    return out


# --------------------------------------------------------------------- Prometheus API
# the executor's ``service`` label of prediction calls, REST and gRPC
PREDICTIONS = 'service=~"predictions|/seldon.protos.Seldon/Predict"'


def selector(deployment: str, extra: str = "") -> str:
    """``{deployment_name="D"<extra>}`` with ``D`` escaped for PromQL."""
    escaped = deployment.replace("\\", "\\\\").replace('"', '\\"')
    return f'{{deployment_name="{escaped}"{extra}}}'


def promql_window(window_s: float) -> str:
    """The PromQL range of an interval: whole seconds, rounded up, at least 1s."""
    return f"{max(1, math.ceil(window_s))}s"


def prometheus_queries(deployment: str, window_s: float) -> dict[str, str]:
    """The PromQL for each number (see the module docstring), keyed by what it gives."""
    w = promql_window(window_s)
    count = "seldon_api_executor_server_requests_seconds_count"
    bucket = "seldon_api_executor_server_requests_seconds_bucket"
    sel, err = selector(deployment), selector(deployment, f',{PREDICTIONS},code!~"2..|OK"')
    calls = selector(deployment, f",{PREDICTIONS}")
    return {
        "requests": f"sum by (predictor_name) (increase({count}{calls}[{w}]))",
        "errors": f"sum by (predictor_name) (increase({count}{err}[{w}]))",
        "p99": f"histogram_quantile({QUANTILE}, sum by (predictor_name, le) "
        f"(rate({bucket}{calls}[{w}])))",
        "drift": f"max by (predictor_name) (seldon_metric_drift_is_drift{sel})",
        "p_value": f"min by (predictor_name) (seldon_metric_drift_p_val{sel})",
    }


def vector_values(
    body: Mapping[str, object], by: str | None = "predictor_name"
) -> dict[str, float]:
    """``{predictor_name: value}`` from a ``/api/v1/query`` JSON answer (instant vector);
    with ``by=None`` (an aggregate without labels) the series' key is ``""``."""
    if body.get("status") != "success":
        raise InvalidInput(f"Prometheus answered {body.get('status')!r}: {body.get('error')}")
    data = body.get("data")
    if not isinstance(data, Mapping) or data.get("resultType") != "vector":
        raise InvalidInput("Prometheus answer is not an instant vector")
    out: dict[str, float] = {}
    result = data.get("result")
    for item in result if isinstance(result, list) else ():
        name = (item.get("metric") or {}).get(by) if by else ""
        if name is not None:
            out[str(name)] = float(item["value"][1])  # NaN stays NaN: "no data"
    return out


def health_from_results(results: Mapping[str, Mapping[str, float]]) -> dict[str, PredictorHealth]:
    """Per-predictor health from the answers to :func:`prometheus_queries`."""

    def num(key: str, pred: str) -> float | None:
        value = results.get(key, {}).get(pred)
        return None if value is None or math.isnan(value) else value

    names: Iterable[str] = set(results.get("requests", {})) | set(results.get("drift", {}))
    out = {}
    for pred in sorted(names):
        requests = num("requests", pred) or 0.0
        errors = min(num("errors", pred) or 0.0, requests)
        drift_value = num("drift", pred)
        out[pred] = PredictorHealth(
            requests,
            errors,
            num("p99", pred) if requests > 0 else None,
            None if drift_value is None else drift_value >= 1.0,
            num("p_value", pred),
        )
    return out
