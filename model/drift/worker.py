"""A bounded buffer of instances and a background thread that tests full windows.

The request path only calls ``DriftWorker.submit``: it records how many instances a
request carries and a cheap callable that decodes them, and returns at once. The worker
thread decodes, gathers exactly ``window_size`` instances per window and calls the
injected ``test_window(x) -> WindowResult`` on each full window; the latest ``Verdict`` is
read with ``verdict``. Nothing here knows Seldon, torch or alibi-detect.

The buffer holds at most ``capacity`` instances that are not yet tested (the ones waiting
and the window under test). When it is full, new instances are dropped and counted
(``Stats.instances_dropped``); ``submit`` never blocks.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

logger = logging.getLogger(__name__)

Decode = Callable[[], np.ndarray]


@dataclass(frozen=True)
class WindowResult:
    """What one window test found (alibi-detect's ``data`` fields we report)."""

    is_drift: bool
    p_value: float
    distance: float
    threshold: float


@dataclass(frozen=True)
class Verdict(WindowResult):
    """The latest window result and ``window``, the number of windows tested so far."""

    window: int = 0


@dataclass(frozen=True)
class Stats:
    """Cumulative counts since the worker started (monotonic, for counter metrics)."""

    instances_received: int = 0
    instances_dropped: int = 0
    windows_tested: int = 0
    drift_detections: int = 0
    window_errors: int = 0


@dataclass
class _Chunk:
    decode: Decode
    take: int  # leading instances of the decoded array that were accepted


class DriftWorker:
    """Own the bounded buffer and the thread that runs ``test_window`` on full windows."""

    def __init__(
        self,
        test_window: Callable[[np.ndarray], WindowResult],
        window_size: int,
        capacity: int,
        *,
        name: str = "drift-worker",
    ) -> None:
        if window_size < 1:
            raise ValueError(f"window_size must be >= 1, got {window_size}")
        if capacity < window_size:
            raise ValueError(f"capacity ({capacity}) must hold one window ({window_size})")
        self._test_window = test_window
        self.window_size = window_size
        self.capacity = capacity
        self._cond = threading.Condition()
        self._chunks: deque[_Chunk] = deque()
        self._buffered = 0  # accepted, not yet tested (queued + pending + under test)
        self._stats = Stats()
        self._verdict: Verdict | None = None
        self._stopping = False
        self._idle = True  # the thread waits for work and nothing is queued
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False

    # -- request side ------------------------------------------------------------------
    def start(self) -> None:
        """Start the background thread (call after any fork)."""
        with self._cond:
            if self._started:
                return
            self._started = True
        self._thread.start()

    def submit(self, count: int, decode: Decode) -> int:
        """Queue ``count`` instances (``decode()`` gives them, first axis = instances).

        Accepts as many leading instances as fit in the buffer and drops the rest.
        Returns the number accepted. Never blocks on a window test.
        """
        if count <= 0:
            return 0
        with self._cond:
            free = max(0, self.capacity - self._buffered)
            take = 0 if self._stopping else min(count, free)
            s = self._stats
            self._stats = replace(
                s,
                instances_received=s.instances_received + count,
                instances_dropped=s.instances_dropped + count - take,
            )
            if take:
                self._buffered += take
                self._chunks.append(_Chunk(decode, take))
                self._cond.notify()
        return take

    @property
    def verdict(self) -> Verdict | None:
        """The latest verdict, or None before the first window was tested."""
        return self._verdict

    @property
    def stats(self) -> Stats:
        """A consistent snapshot of the cumulative counts."""
        with self._cond:
            return self._stats

    @property
    def buffered(self) -> int:
        """Instances accepted and not yet tested."""
        with self._cond:
            return self._buffered

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking instances, let the thread finish its current window, join it."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._started:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything submitted has been processed (for tests and tools)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._stopping or (not self._chunks and self._idle), timeout
            )

    # -- worker side -------------------------------------------------------------------
    def _run(self) -> None:
        pending: list[np.ndarray] = []
        pending_n = 0
        while True:
            with self._cond:
                self._idle = not self._chunks
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._stopping or bool(self._chunks))
                if self._stopping:
                    return
                chunk = self._chunks.popleft()
                self._idle = False
            rows = self._decode(chunk)
            if rows is None:
                continue
            pending.append(rows)
            pending_n += len(rows)
            while pending_n >= self.window_size:
                batch = np.concatenate(pending) if len(pending) > 1 else pending[0]
                window, rest = batch[: self.window_size], batch[self.window_size :]
                pending, pending_n = ([rest] if len(rest) else []), len(rest)
                self._test(window)
                with self._cond:
                    if self._stopping:
                        return

    def _decode(self, chunk: _Chunk) -> np.ndarray | None:
        try:
            rows = np.asarray(chunk.decode())
            if rows.ndim < 1 or len(rows) < chunk.take:
                raise ValueError(f"decoded {rows.shape}, expected {chunk.take} instances")
            return rows[: chunk.take]
        except Exception:
            logger.exception("drift: could not decode %d instances; dropped", chunk.take)
            with self._cond:
                self._buffered -= chunk.take
                s = self._stats
                self._stats = replace(s, instances_dropped=s.instances_dropped + chunk.take)
            return None

    def _test(self, window: np.ndarray) -> None:
        try:
            result: WindowResult | None = self._test_window(window)
        except Exception:
            logger.exception("drift: window test failed; window skipped")
            result = None
        with self._cond:
            self._buffered -= len(window)
            s = self._stats
            if result is None:
                self._stats = replace(s, window_errors=s.window_errors + 1)
                return
            tested = s.windows_tested + 1
            self._stats = replace(
                s,
                windows_tested=tested,
                drift_detections=s.drift_detections + int(bool(result.is_drift)),
            )
            self._verdict = Verdict(
                is_drift=bool(result.is_drift),
                p_value=float(result.p_value),
                distance=float(result.distance),
                threshold=float(result.threshold),
                window=tested,
            )
