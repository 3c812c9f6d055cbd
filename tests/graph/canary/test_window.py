"""The rollout does not judge a Prometheus rate window that is not filled yet: the check's
PromQL, its reading of Prometheus' answers, and the rollout's wait-and-restart."""

from __future__ import annotations

from typing import Any

import pytest

from graph.canary import window
from graph.canary.audit import AuditLog
from graph.canary.decision import Thresholds
from graph.canary.health import PredictorHealth, vector_values
from graph.canary.rollout import RolloutSettings, run_rollout
from graph.canary.window import WindowNotFilled
from model.errors import Unavailable
from tests.graph.canary.test_rollout import HEALTHY, FakeTarget

T = Thresholds(error_margin=0.01, latency_ratio=1.5, min_requests=20, max_waits=2)


def test_the_check_counts_series_at_the_window_start_and_samples_inside_it() -> None:
    q = window.window_queries("digits", 9.2)
    calls = (
        'seldon_api_executor_server_requests_seconds_count{deployment_name="digits",'
        'service=~"predictions|/seldon.protos.Seldon/Predict"}'
    )
    assert q == {
        "at_start": f"count({calls} offset 10s)",
        "samples": f"max(count_over_time({calls}[10s]))",
    }


def answer(value: str | None) -> dict[str, float]:
    result = [] if value is None else [{"metric": {}, "value": [0, value]}]
    return vector_values({"status": "success", "data": {"resultType": "vector",
                                                        "result": result}}, by=None)  # fmt: skip


def test_no_sample_at_the_window_start_is_not_filled_and_says_why() -> None:
    empty = window.coverage(
        "digits", 10, 1000.0, {"at_start": answer(None), "samples": answer("3")}
    )
    assert not empty.filled
    assert empty.to_dict() == {"window": "10s", "series_at_window_start": 0,
                               "samples_in_window": 3, "time": 1000.0}  # fmt: skip
    assert "no sample of the executor metrics of 'digits' from the start of the 10s window" in (
        empty.reason()
    )
    full = window.coverage("digits", 10, 1000.0, {"at_start": answer("4"), "samples": answer("11")})
    assert full.filled and full.at_start == 4 and full.samples == 11


def test_not_filled_is_unavailable_for_callers_that_do_not_know_it() -> None:
    assert issubclass(WindowNotFilled, Unavailable)


class NotFilledThen:
    """Raises WindowNotFilled ``times`` times, then answers HEALTHY; counts begin()."""

    def __init__(self, times: int) -> None:
        self.times, self.begins, self.windows = times, 0, []  # type: list[float]

    def begin(self) -> int:
        self.begins += 1
        return self.begins

    def read(self, start: object, window_s: float) -> dict[str, PredictorHealth]:
        self.windows.append(window_s)
        if self.times > 0:
            self.times -= 1
            raise WindowNotFilled("no sample from the start", {"series_at_window_start": 0})
        return HEALTHY

    def details(self) -> dict[str, Any]:
        return {"prometheus": {"series_at_window_start": 1}}


def rollout(source: NotFilledThen, steps: tuple[int, ...]) -> tuple[str, FakeTarget, AuditLog]:
    target, audit = FakeTarget(), AuditLog(None, "digits")
    clock = iter(range(0, 1000, 5))  # each call 5 s later
    settings = RolloutSettings(steps, 5.0, T)
    outcome = run_rollout(settings, target, source, audit, lambda s: None, lambda: next(clock))
    return outcome.status, target, audit


def test_a_window_not_filled_waits_and_restarts_the_interval() -> None:
    source = NotFilledThen(times=2)
    status, target, audit = rollout(source, (10, 100))
    assert status == "complete"
    decisions = [r for r in audit.records if r["event"] == "decision"]
    assert [r["verdict"] for r in decisions] == ["wait", "wait", "continue", "complete"]
    assert decisions[0]["prometheus"] == {"series_at_window_start": 0}
    assert "no sample from the start: waiting one more interval" in decisions[0]["reason"]
    assert decisions[2]["prometheus"] == {"series_at_window_start": 1}  # the source's details
    assert source.begins == 2 + 2  # one per step, one per restart
    assert source.windows[:3] == [5, 5, 5]  # restarted: never a window grown over the waits
    assert target.calls == ["set 10", "set 100"]


def test_a_window_never_filled_rolls_back_after_max_waits() -> None:
    source = NotFilledThen(times=10)
    status, target, audit = rollout(source, (10, 100))
    assert status == "rolled_back" and target.calls == ["set 10", "rollback"]
    verdicts = [r["verdict"] for r in audit.records if r["event"] == "decision"]
    assert verdicts == ["wait"] * T.max_waits + ["rollback"]
    assert "not enough data" in audit.records[-2]["reason"]
    assert audit.records[-1]["reason"] == f"window not filled after {T.max_waits} wait(s)"


@pytest.mark.parametrize("waits", [0, 1])
def test_max_waits_bounds_the_not_filled_waits(waits: int) -> None:
    source = NotFilledThen(times=waits + 1)
    target, audit = FakeTarget(), AuditLog(None, "digits")
    settings = RolloutSettings((10,), 5.0, Thresholds(max_waits=waits))
    outcome = run_rollout(settings, target, source, audit, lambda s: None)
    assert outcome.status == "rolled_back"
