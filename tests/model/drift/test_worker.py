"""DriftWorker: bounded buffer, exact windows, verdicts, drops and shutdown (no alibi here)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from model.drift.worker import DriftWorker, WindowResult

W = 4


class RecordingTest:
    """A fake window test: records windows; drift when the window mean is positive."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.windows: list[np.ndarray] = []
        self.gate = gate
        self.entered = threading.Event()

    def __call__(self, x: np.ndarray) -> WindowResult:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(30), "test gate never opened"
        self.windows.append(x.copy())
        mean = float(x.mean())
        return WindowResult(is_drift=mean > 0, p_value=0.5 - mean, distance=mean, threshold=0.05)


def rows(start: int, n: int) -> np.ndarray:
    """n instances of shape (2,) whose values encode their global index."""
    return np.repeat(np.arange(start, start + n, dtype=np.float32)[:, None], 2, axis=1)


@pytest.fixture
def make_worker():
    workers: list[DriftWorker] = []

    def make(test, window_size=W, capacity=4 * W) -> DriftWorker:
        worker = DriftWorker(test, window_size, capacity)
        worker.start()
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


def test_windows_hold_exactly_window_size_instances_in_arrival_order(make_worker) -> None:
    test = RecordingTest()
    worker = make_worker(test, capacity=100)
    sizes = [1, 3, 5, 2, 6]  # 17 instances: 4 full windows and 1 left over
    start = 0
    for n in sizes:
        assert worker.submit(n, lambda s=start, n=n: rows(s, n)) == n
        start += n
    assert worker.wait_idle(30)
    assert [len(w) for w in test.windows] == [W] * 4
    np.testing.assert_array_equal(np.concatenate(test.windows), rows(0, 4 * W))
    assert worker.buffered == 1
    assert worker.stats.windows_tested == 4


def test_full_buffer_drops_and_counts_without_blocking(make_worker) -> None:
    gate = threading.Event()
    test = RecordingTest(gate)
    worker = make_worker(test, capacity=2 * W)
    worker.submit(W, lambda: rows(0, W))
    assert test.entered.wait(30)  # the worker is stuck inside the first window's test
    accepted = [worker.submit(1, lambda i=i: rows(W + i, 1)) for i in range(4 * W)]
    # capacity counts the window under test: only W more instances fit.
    assert sum(accepted) == W
    assert accepted[:W] == [1] * W and accepted[W:] == [0] * (3 * W)
    stats = worker.stats
    assert stats.instances_received == 5 * W
    assert stats.instances_dropped == 3 * W
    gate.set()
    assert worker.wait_idle(30)
    assert worker.stats.windows_tested == 2
    assert worker.buffered == 0
    np.testing.assert_array_equal(test.windows[1], rows(W, W))


def test_a_request_larger_than_the_free_space_is_cut_to_fit(make_worker) -> None:
    gate = threading.Event()
    test = RecordingTest(gate)
    worker = make_worker(test, capacity=2 * W)
    assert worker.submit(W + 1, lambda: rows(0, W + 1)) == W + 1
    assert test.entered.wait(30)
    assert worker.submit(5, lambda: rows(100, 5)) == W - 1
    assert worker.stats.instances_dropped == 5 - (W - 1)
    gate.set()
    assert worker.wait_idle(30)
    np.testing.assert_array_equal(test.windows[1], np.concatenate([rows(W, 1), rows(100, W - 1)]))


def test_verdict_follows_the_latest_window(make_worker) -> None:
    worker = make_worker(RecordingTest())
    assert worker.verdict is None
    worker.submit(W, lambda: -np.ones((W, 2), np.float32))
    assert worker.wait_idle(30)
    first = worker.verdict
    assert first is not None and first.window == 1 and not first.is_drift
    assert first.distance == pytest.approx(-1.0)
    worker.submit(W, lambda: np.ones((W, 2), np.float32))
    assert worker.wait_idle(30)
    second = worker.verdict
    assert second is not None and second.window == 2 and second.is_drift
    assert second.p_value == pytest.approx(-0.5)
    assert worker.stats.drift_detections == 1


def test_a_failing_window_test_is_counted_and_the_worker_goes_on(make_worker) -> None:
    calls = []

    def flaky(x: np.ndarray) -> WindowResult:
        calls.append(len(x))
        if len(calls) == 1:
            raise RuntimeError("boom")
        return WindowResult(False, 0.9, 0.0, 0.05)

    worker = make_worker(flaky)
    worker.submit(2 * W, lambda: rows(0, 2 * W))
    assert worker.wait_idle(30)
    assert worker.stats.window_errors == 1
    assert worker.stats.windows_tested == 1
    assert worker.verdict is not None and worker.verdict.window == 1
    assert worker.buffered == 0


def test_undecodable_instances_are_dropped_and_counted(make_worker) -> None:
    test = RecordingTest()
    worker = make_worker(test)

    def bad() -> np.ndarray:
        raise ValueError("not numbers")

    worker.submit(3, bad)
    worker.submit(W, lambda: rows(0, W))
    assert worker.wait_idle(30)
    assert worker.stats.instances_dropped == 3
    assert len(test.windows) == 1
    np.testing.assert_array_equal(test.windows[0], rows(0, W))


def test_stop_joins_the_thread_and_refuses_new_instances(make_worker) -> None:
    worker = make_worker(RecordingTest())
    assert worker.is_alive()
    worker.stop()
    assert not worker.is_alive()
    assert worker.submit(2, lambda: rows(0, 2)) == 0
    assert worker.stats.instances_dropped == 2


def test_capacity_must_hold_one_window() -> None:
    with pytest.raises(ValueError, match="capacity"):
        DriftWorker(RecordingTest(), window_size=8, capacity=7)
