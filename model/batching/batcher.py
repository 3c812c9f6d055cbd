"""Dynamic batching across threads: one queue, one future per request, one worker thread.

``DynamicBatcher(setup, max_batch_size, max_delay_ms)`` runs the batch function ``setup``
returns (a batch array -> an array with one row per sample) on a single worker thread.
Requests from any number of threads are queued; the worker takes everything queued
*right now*, up to ``max_batch_size`` samples, and runs it while the next requests queue
up, so batches grow with the load by themselves.

The worker waits (at most ``max_delay_ms``) for more requests only while callers are known
to be on their way: a caller announces itself with ``arriving()`` before it decodes and
validates its input, and the slot it gets submits the array and retires the announcement in
one step. A lone client therefore never waits for company that is not coming.

Rules:
- ``max_batch_size`` counts samples, not requests. Requests are taken in arrival order; a
  request with more samples than ``max_batch_size`` is never split: it runs alone, as a
  batch of its own (callers bound request sizes themselves).
- Every request carries its own sample count; outputs are cut back at the offsets of
  ``merge`` and checked against the input length, so replies can never be mixed up.
- An exception in the batch function (or a wrong output length) is set on every request of
  that batch; ``stop()`` fails every request still queued with ``Unavailable``.
- Batching off is the same batcher with ``max_batch_size=1`` and no delay.

``setup`` builds the batch function on the worker thread itself, so the model is loaded,
warmed up and run by one thread only: once a second thread has run torch's OpenMP regions,
every CPU forward pays for both pools (ResNet-18 at batch 1: 3 ms, then 9 ms). ``ready()``
waits for ``setup`` and re-raises its error.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import numpy as np

from model.batching.merge import merge, split
from model.errors import ConfigError, InternalError, SeldonGraphError, Timeout, Unavailable

BatchFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BatchResult:
    """One request's output and how it was served."""

    output: np.ndarray
    batch_size: int  # samples in the batch that served the request
    batch_requests: int  # requests in that batch
    queue_wait_ms: float  # from submit until its batch started running
    inference_ms: float  # time the batch function took on the whole batch
    waited: bool  # whether the worker held the batch open for more requests


@dataclass
class _Request:
    array: np.ndarray
    future: Future[BatchResult]
    enqueued: float


class Slot:
    """A caller announced with ``arriving()``; ``submit`` may be called once."""

    def __init__(self, submit: Callable[[np.ndarray, Slot], Future[BatchResult]]) -> None:
        self._submit = submit
        self.used = False

    def submit(self, array: np.ndarray) -> Future[BatchResult]:
        if self.used:
            raise InternalError("a batching slot can submit only once")
        return self._submit(array, self)


def _run_checked(fn: BatchFn, arrays: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    batch, offsets = merge(arrays)
    start = time.perf_counter()
    output = fn(batch)
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    return split(output, offsets), elapsed_ms


def _as_graph_error(exc: BaseException) -> BaseException:
    if isinstance(exc, SeldonGraphError):
        return exc
    return InternalError(f"batch inference failed: {type(exc).__name__}: {exc}")


def _check_fn_args(fn: object, timeout_s: float | None) -> None:
    if not callable(fn):
        raise ConfigError(f"batch function must be callable, got {type(fn).__name__}")
    if timeout_s is not None and not (isinstance(timeout_s, int | float) and timeout_s > 0):
        raise ConfigError(f"timeout_s must be a positive number or None, got {timeout_s!r}")


class DynamicBatcher:
    """Batch concurrent requests on one worker thread (started at construction), which
    first builds the batch function with ``setup()``."""

    def __init__(
        self,
        setup: Callable[[], BatchFn],
        max_batch_size: int,
        max_delay_ms: float,
        *,
        timeout_s: float | None = 30.0,
        name: str = "dynamic-batcher",
    ) -> None:
        _check_fn_args(setup, timeout_s)
        if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int):
            raise ConfigError(f"max_batch_size must be an int, got {max_batch_size!r}")
        if max_batch_size < 1:
            raise ConfigError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if (
            isinstance(max_delay_ms, bool)
            or not isinstance(max_delay_ms, int | float)
            or not math.isfinite(max_delay_ms)
            or max_delay_ms < 0
        ):
            raise ConfigError(f"max_delay_ms must be a finite number >= 0, got {max_delay_ms!r}")
        self._fn: BatchFn | None = None
        self._setup = setup
        self._setup_error: BaseException | None = None
        self._ready = threading.Event()
        self.max_batch_size = max_batch_size
        self.max_delay_s = float(max_delay_ms) / 1000.0
        self.timeout_s = timeout_s
        self._cond = threading.Condition()
        self._queue: deque[_Request] = deque()
        self._arriving = 0
        self._stopped = False
        self.batches = 0  # batches run so far
        self.waits = 0  # batches held open for expected requests
        self._thread = threading.Thread(target=self._worker, name=name, daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Requests waiting for a batch (not yet taken by the worker)."""
        with self._cond:
            return len(self._queue)

    # ----- caller side -----
    @contextlib.contextmanager
    def arriving(self) -> Iterator[Slot]:
        """Announce a request that will be submitted soon (while it is being decoded)."""
        with self._cond:
            self._arriving += 1
        slot = Slot(self._submit)
        try:
            yield slot
        finally:
            if not slot.used:
                with self._cond:
                    self._arriving -= 1
                    self._cond.notify_all()

    def wait(self, future: Future[BatchResult]) -> BatchResult:
        """Wait for a submitted request up to ``timeout_s`` (cancels it on timeout)."""
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            future.cancel()
            raise Timeout(f"no inference result within {self.timeout_s} s") from None

    def _submit(self, array: np.ndarray, slot: Slot) -> Future[BatchResult]:
        """Queue one request (an array of N >= 1 samples); its future gets its own rows."""
        if not isinstance(array, np.ndarray) or array.ndim == 0 or len(array) == 0:
            raise InternalError("a batched request needs an array of at least one sample")
        future: Future[BatchResult] = Future()
        with self._cond:
            slot.used = True
            self._arriving -= 1
            if self._stopped:
                raise Unavailable("the model is shutting down")
            self._queue.append(_Request(array, future, time.perf_counter()))
            self._cond.notify_all()
        return future

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the worker; requests still queued fail with ``Unavailable``."""
        with self._cond:
            self._stopped = True
            pending = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for request in pending:
            if request.future.set_running_or_notify_cancel():
                request.future.set_exception(Unavailable("the model is shutting down"))
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    # ----- worker side -----
    def _take(self, batch: list[_Request], samples: int) -> int:
        """Move queued requests into ``batch`` in order while they fit; return the samples.

        The first request of a batch is always taken, even when larger than the limit.
        Requests cancelled by their callers (timeout) are dropped here.
        """
        while self._queue:
            n = len(self._queue[0].array)
            if batch and samples + n > self.max_batch_size:
                break
            request = self._queue.popleft()
            if not request.future.set_running_or_notify_cancel():
                continue
            batch.append(request)
            samples += n
            if samples >= self.max_batch_size:
                break
        return samples

    def _collect(self) -> tuple[list[_Request], bool] | None:
        """Block until there is work; return a batch and whether it was held open."""
        with self._cond:
            batch: list[_Request] = []
            samples = 0
            while not batch:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return None
                samples = self._take(batch, samples)
            waited = False
            deadline = time.perf_counter() + self.max_delay_s
            # Take what has been queued meanwhile; hold the batch open (up to the deadline)
            # only while announced callers have not submitted yet.
            while samples < self.max_batch_size and not self._stopped:
                if self._queue:
                    before = samples
                    samples = self._take(batch, samples)
                    if samples == before and self._queue:
                        break  # the next request does not fit: run what we have
                    continue
                if self._arriving == 0:
                    break
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                waited = True
                self._cond.wait(remaining)
            return batch, waited

    def ready(self, timeout_s: float | None = None) -> None:
        """Wait until the worker has built the batch function; re-raise a setup error."""
        if not self._ready.wait(timeout_s):
            raise Timeout(f"the model was not ready within {timeout_s} s")
        if self._setup_error is not None:
            raise self._setup_error

    def _worker(self) -> None:
        try:
            self._fn = self._setup()
        except BaseException as exc:  # the caller of ready() hears about it
            self._setup_error = exc
            self._ready.set()
            self.stop()
            return
        self._ready.set()
        while True:
            collected = self._collect()
            if collected is None:
                return
            batch, waited = collected
            self._serve(batch, waited)

    def _serve(self, batch: list[_Request], waited: bool) -> None:
        started = time.perf_counter()
        self.batches += 1
        self.waits += int(waited)
        try:
            assert self._fn is not None  # set before the first batch (setup ran first)
            outputs, inference_ms = _run_checked(self._fn, [r.array for r in batch])
        except BaseException as exc:  # every waiter must hear about it
            error = _as_graph_error(exc)
            for request in batch:
                request.future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        samples = sum(len(r.array) for r in batch)
        for request, output in zip(batch, outputs, strict=True):
            request.future.set_result(
                BatchResult(
                    output=output,
                    batch_size=samples,
                    batch_requests=len(batch),
                    queue_wait_ms=(started - request.enqueued) * 1000.0,
                    inference_ms=inference_ms,
                    waited=waited,
                )
            )
