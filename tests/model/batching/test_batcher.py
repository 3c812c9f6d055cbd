"""Unit tests of model.batching: pure merge/split and the DynamicBatcher (no torch)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np
import pytest

from model.batching import BatchResult, DynamicBatcher, merge, offsets_of, split
from model.errors import (
    ArtifactError,
    ConfigError,
    InternalError,
    InvalidInput,
    Timeout,
    Unavailable,
)


def double_plus_one(x: np.ndarray) -> np.ndarray:
    return x * 2.0 + 1.0


def returning(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[], Callable[..., np.ndarray]]:
    """A ``setup`` that builds nothing: the batch function is ``fn``."""
    return lambda: fn


def submit(batcher: DynamicBatcher, array: np.ndarray) -> Future[BatchResult]:
    """Queue a request the way the predictor does (announce, then submit)."""
    with batcher.arriving() as slot:
        return slot.submit(array)


def run(batcher: DynamicBatcher, array: np.ndarray) -> BatchResult:
    """Submit and wait up to the batcher's timeout."""
    return batcher.wait(submit(batcher, array))


def request_array(i: int, n: int) -> np.ndarray:
    """n rows whose values identify request i and the row (so mix-ups show)."""
    return (i * 1000 + np.arange(n * 3, dtype=np.float64)).reshape(n, 3)


class Gate:
    """A batch function that blocks its first call until ``open()``: requests pile up."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.fn = fn
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batch_sizes: list[int] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.entered.set()
        assert self.release.wait(10)
        self.batch_sizes.append(len(x))
        return self.fn(x)


# ----- merge / split -----
def test_merge_then_split_gives_each_request_its_own_rows() -> None:
    arrays = [request_array(i, n) for i, n in enumerate([1, 4, 2, 7])]
    batch, offsets = merge(arrays)
    assert batch.shape == (14, 3)
    assert offsets == [0, 1, 5, 7, 14]
    for original, part in zip(arrays, split(double_plus_one(batch), offsets), strict=True):
        np.testing.assert_array_equal(part, double_plus_one(original))


def test_merge_rejects_mismatched_sample_shapes() -> None:
    with pytest.raises(ValueError, match=r"request 1 has shape \(2, 4\)"):
        merge([np.zeros((1, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError):
        merge([])


def test_split_rejects_output_of_wrong_length() -> None:
    with pytest.raises(InternalError, match="returned 5 rows for a batch of 6 samples"):
        split(np.zeros((5, 2)), offsets_of([2, 4]))
    with pytest.raises(InternalError, match="returned a list"):
        split([1, 2], [0, 2])  # type: ignore[arg-type]


def test_offsets_reject_negative_sizes() -> None:
    with pytest.raises(ValueError):
        offsets_of([1, -1])


# ----- constructor -----
@pytest.mark.parametrize(
    ("fn", "size", "delay"),
    [
        (double_plus_one, 0, 1.0),
        (double_plus_one, -3, 1.0),
        (double_plus_one, 2.5, 1.0),
        (double_plus_one, True, 1.0),
        (double_plus_one, 8, -1.0),
        (double_plus_one, 8, float("nan")),
        (double_plus_one, 8, float("inf")),
        ("not callable", 8, 1.0),
    ],
)
def test_bad_constructor_arguments_are_rejected(fn: object, size: object, delay: object) -> None:
    with pytest.raises(ConfigError):
        DynamicBatcher(fn, size, delay)  # type: ignore[arg-type]


# ----- concurrency -----
def test_concurrent_requests_of_different_sizes_get_exactly_their_own_outputs(
    stop_after: list[DynamicBatcher],
) -> None:
    gate = Gate(double_plus_one)
    batcher = DynamicBatcher(returning(gate), max_batch_size=16, max_delay_ms=5.0)
    stop_after.append(batcher)
    inputs = [request_array(i, 1 + i % 5) for i in range(32)]
    results: dict[int, BatchResult] = {}
    submitted = threading.Barrier(33)

    def client(i: int) -> None:
        future = submit(batcher, inputs[i])
        submitted.wait()
        results[i] = batcher.wait(future)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    submitted.wait()  # every request is queued (or running) before the model runs
    gate.release.set()
    for t in threads:
        t.join(10)
    assert sorted(results) == list(range(32))
    for i, result in results.items():
        np.testing.assert_array_equal(result.output, double_plus_one(inputs[i]))
    assert max(r.batch_requests for r in results.values()) > 1
    assert all(r.batch_size <= 16 for r in results.values())
    assert sum(gate.batch_sizes) == sum(len(x) for x in inputs)
    assert batcher.batches == len(gate.batch_sizes) < 32


def test_lone_request_is_not_held_for_max_delay(stop_after: list[DynamicBatcher]) -> None:
    batcher = DynamicBatcher(returning(double_plus_one), max_batch_size=32, max_delay_ms=60_000.0)
    stop_after.append(batcher)
    for i in range(5):  # one client, one request after another
        with batcher.arriving() as slot:
            future = slot.submit(request_array(i, 2))
        result = batcher.wait(future)
        np.testing.assert_array_equal(result.output, double_plus_one(request_array(i, 2)))
        assert result.waited is False
        assert result.batch_requests == 1
    assert batcher.waits == 0


def test_batch_is_held_open_for_an_announced_caller(stop_after: list[DynamicBatcher]) -> None:
    batcher = DynamicBatcher(returning(double_plus_one), max_batch_size=32, max_delay_ms=60_000.0)
    stop_after.append(batcher)
    with batcher.arriving() as late:  # announced, still decoding its input
        early = submit(batcher, request_array(0, 1))
        deadline = time.monotonic() + 10
        while batcher.queued and time.monotonic() < deadline:  # the worker took `early`
            time.sleep(0.001)
        late_future = late.submit(request_array(1, 2))
    first, second = batcher.wait(early), batcher.wait(late_future)
    assert first.batch_requests == second.batch_requests == 2
    assert first.waited and batcher.waits == 1
    np.testing.assert_array_equal(second.output, double_plus_one(request_array(1, 2)))


def test_wait_for_company_ends_after_max_delay(stop_after: list[DynamicBatcher]) -> None:
    batcher = DynamicBatcher(returning(double_plus_one), max_batch_size=32, max_delay_ms=20.0)
    stop_after.append(batcher)
    with batcher.arriving():  # announced, but never submits
        result = run(batcher, request_array(0, 1))
    assert result.waited is True
    assert result.batch_requests == 1


def test_request_larger_than_max_batch_size_runs_alone(stop_after: list[DynamicBatcher]) -> None:
    gate = Gate(double_plus_one)
    batcher = DynamicBatcher(returning(gate), max_batch_size=4, max_delay_ms=0.0)
    stop_after.append(batcher)
    first = submit(batcher, request_array(0, 1))
    assert gate.entered.wait(5)
    big, small = submit(batcher, request_array(1, 10)), submit(batcher, request_array(2, 1))
    gate.release.set()
    big_result = batcher.wait(big)
    assert (big_result.batch_size, big_result.batch_requests) == (10, 1)
    np.testing.assert_array_equal(big_result.output, double_plus_one(request_array(1, 10)))
    assert batcher.wait(small).batch_size == 1
    assert batcher.wait(first).batch_size == 1


# ----- failures -----
def _submit_while_blocked(batcher: DynamicBatcher, gate: Gate, n: int) -> list[Future[BatchResult]]:
    first = submit(batcher, request_array(0, 1))
    assert gate.entered.wait(5)
    return [first] + [submit(batcher, request_array(i, 1 + i % 3)) for i in range(1, n)]


def test_exception_in_batch_function_reaches_every_waiter(
    stop_after: list[DynamicBatcher],
) -> None:
    def broken(x: np.ndarray) -> np.ndarray:
        raise RuntimeError("device lost")

    gate = Gate(broken)
    batcher = DynamicBatcher(returning(gate), max_batch_size=64, max_delay_ms=0.0)
    stop_after.append(batcher)
    futures = _submit_while_blocked(batcher, gate, 6)
    gate.release.set()
    for future in futures:
        with pytest.raises(InternalError, match="RuntimeError: device lost"):
            batcher.wait(future)
    assert gate.batch_sizes and max(gate.batch_sizes) > 1  # the later five shared a batch


def test_project_errors_from_batch_function_pass_through(
    stop_after: list[DynamicBatcher],
) -> None:
    def refuses(x: np.ndarray) -> np.ndarray:
        raise InvalidInput("bad values")

    batcher = DynamicBatcher(returning(refuses), max_batch_size=8, max_delay_ms=0.0)
    stop_after.append(batcher)
    with pytest.raises(InvalidInput, match="bad values"):
        run(batcher, request_array(0, 2))


def test_output_length_mismatch_fails_every_waiter(stop_after: list[DynamicBatcher]) -> None:
    gate = Gate(lambda x: x[:-1])
    batcher = DynamicBatcher(returning(gate), max_batch_size=64, max_delay_ms=0.0)
    stop_after.append(batcher)
    futures = _submit_while_blocked(batcher, gate, 5)
    gate.release.set()
    for future in futures:
        with pytest.raises(InternalError, match="rows for a batch of"):
            batcher.wait(future)


def test_stop_fails_pending_requests_and_refuses_new_ones() -> None:
    gate = Gate(double_plus_one)
    batcher = DynamicBatcher(returning(gate), max_batch_size=1, max_delay_ms=0.0)
    futures = _submit_while_blocked(batcher, gate, 4)
    stopper = threading.Thread(target=batcher.stop)
    stopper.start()
    for future in futures[1:]:
        with pytest.raises(Unavailable):
            future.result(timeout=5)
    gate.release.set()  # the running batch still completes
    np.testing.assert_array_equal(futures[0].result(5).output, double_plus_one(request_array(0, 1)))
    stopper.join(5)
    with pytest.raises(Unavailable):
        submit(batcher, request_array(9, 1))


def test_wait_times_out_and_cancels_the_request(stop_after: list[DynamicBatcher]) -> None:
    gate = Gate(double_plus_one)
    batcher = DynamicBatcher(returning(gate), max_batch_size=1, max_delay_ms=0.0, timeout_s=0.05)
    stop_after.append(batcher)
    first = submit(batcher, request_array(0, 1))
    assert gate.entered.wait(5)
    queued = submit(batcher, request_array(1, 1))
    with pytest.raises(Timeout):
        batcher.wait(queued)
    assert queued.cancelled()
    gate.release.set()
    assert batcher.wait(first).batch_size == 1


# ----- no batching -----
def test_batching_off_serves_each_request_alone(stop_after: list[DynamicBatcher]) -> None:
    gate = Gate(double_plus_one)
    runner = DynamicBatcher(returning(gate), max_batch_size=1, max_delay_ms=0.0)
    stop_after.append(runner)
    first = submit(runner, request_array(0, 4))  # larger than the limit: still runs, alone
    assert gate.entered.wait(5)
    second, third = submit(runner, request_array(1, 1)), submit(runner, request_array(2, 1))
    gate.release.set()
    results = [runner.wait(f) for f in (first, second, third)]
    assert [(r.batch_size, r.batch_requests) for r in results] == [(4, 1), (1, 1), (1, 1)]
    np.testing.assert_array_equal(results[0].output, double_plus_one(request_array(0, 4)))


# ----- setup on the worker thread -----
def test_setup_builds_the_function_on_the_worker_thread(
    stop_after: list[DynamicBatcher],
) -> None:
    seen: list[threading.Thread] = []

    def setup() -> Callable[[np.ndarray], np.ndarray]:
        seen.append(threading.current_thread())
        return double_plus_one

    batcher = DynamicBatcher(setup, max_batch_size=8, max_delay_ms=0.0)
    stop_after.append(batcher)
    batcher.ready(5)
    assert seen and seen[0] is not threading.current_thread()
    result = run(batcher, request_array(5, 2))
    np.testing.assert_array_equal(result.output, double_plus_one(request_array(5, 2)))


def test_a_failing_setup_is_raised_by_ready_and_refuses_requests() -> None:
    def setup() -> Callable[[np.ndarray], np.ndarray]:
        raise ArtifactError("weights.pt: sha256 mismatch")

    batcher = DynamicBatcher(setup, max_batch_size=8, max_delay_ms=0.0)
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        batcher.ready(5)
    with pytest.raises(Unavailable):
        submit(batcher, request_array(0, 1))
