"""Is Prometheus' rate window filled? The rollout must not judge a window it is not.

``increase(x[W])`` and ``rate(x[W])`` use only the samples Prometheus holds inside the
window: when Prometheus started (its first scrape comes about 5 s after its start) or
began scraping the deployment less than ``W`` ago, they cover only the part of the window
it has data for and read low (fewer requests and errors than were served). The check is
two instant queries at the same evaluation time as the health queries, over the
deployment's executor prediction series (main's exist from before the canary's step)::

    at_start: count(seldon_api_executor_server_requests_seconds_count{D,P} offset Ws)
    samples:  max(count_over_time(seldon_api_executor_server_requests_seconds_count{D,P}[Ws]))

``at_start`` counts the series with a sample at or before the window's start (within
Prometheus' 5-minute lookback), ``samples`` is the most samples one series has inside the
window. The window is filled when ``at_start`` > 0: Prometheus was already scraping the
deployment when the window began. Otherwise the source raises :class:`WindowNotFilled`
and the rollout records a ``wait`` and starts the interval again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graph.canary.health import PREDICTIONS, promql_window, selector
from model.errors import Unavailable

COUNT = "seldon_api_executor_server_requests_seconds_count"


class WindowNotFilled(Unavailable):
    """Prometheus holds no sample from the window's start: its numbers would read low.

    A subclass of ``Unavailable``, so a caller that does not know it fails safe."""

    def __init__(self, message: str, numbers: Mapping[str, object]) -> None:
        super().__init__(message)
        self.numbers = dict(numbers)


def window_queries(deployment: str, window_s: float) -> dict[str, str]:
    """The two PromQL queries of the check (see the module docstring)."""
    w = promql_window(window_s)
    calls = f"{COUNT}{selector(deployment, f',{PREDICTIONS}')}"
    return {
        "at_start": f"count({calls} offset {w})",
        "samples": f"max(count_over_time({calls}[{w}]))",
    }


@dataclass(frozen=True)
class WindowCoverage:
    """What Prometheus holds of one window: ``at_start`` series with a sample at or before
    its start, at most ``samples`` samples of one series inside it."""

    deployment: str
    window: str  # the PromQL range, e.g. "10s"
    at_start: int
    samples: int
    time: float  # the evaluation time of every query of this read (Unix seconds)

    @property
    def filled(self) -> bool:
        return self.at_start > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "window": self.window,
            "series_at_window_start": self.at_start,
            "samples_in_window": self.samples,
            "time": round(self.time, 3),
        }

    def reason(self) -> str:
        return (
            f"Prometheus holds no sample of the executor metrics of {self.deployment!r} from the "
            f"start of the {self.window} window ({self.samples} sample(s) inside it): "
            "increase()/rate() over a window that is not filled read low"
        )


def coverage(
    deployment: str, window_s: float, at: float, answers: Mapping[str, Mapping[str, float]]
) -> WindowCoverage:
    """The coverage from the answers to :func:`window_queries` (each a one-series vector,
    keyed by ``""``; an empty answer is 0)."""

    def value(key: str) -> int:
        found = answers.get(key, {})
        return int(next(iter(found.values()), 0.0)) if found else 0

    return WindowCoverage(
        deployment, promql_window(window_s), value("at_start"), value("samples"), at
    )
