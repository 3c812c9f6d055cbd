"""Traffic between the predictors of one deployment: a weighted canary split and a shadow.

Pure and seedable: :class:`TrafficSplit` picks the predictor that answers a request by
the non-shadow predictors' ``traffic`` weights (Istio's weighted destinations), and says
whether the shadow predictor gets a mirrored copy (Istio's ``mirror`` with
``mirrorPercentage`` = the shadow's ``traffic`` when above 0, all traffic otherwise).
:class:`Mirror` runs mirrored calls as bounded fire-and-forget tasks. Weights can be
replaced at runtime with :meth:`TrafficSplit.set_weights` (live reload).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import random
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from model.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """Where one request goes: the predictor that answers and an optional shadow."""

    predictor: str
    shadow: str | None = None


class TrafficSplit:
    """Weighted choice between non-shadow predictors, plus an optional shadow mirror.

    ``weights`` maps each non-shadow predictor to its ``traffic`` (integers >= 0). A single
    non-shadow predictor gets all traffic whatever its weight. When every weight is 0
    with several predictors, traffic is split evenly (the operator would reject that
    manifest; the gateway still answers). ``shadow`` names the shadow predictor and
    ``shadow_percent`` is the share of requests mirrored to it (0 means all, as in Seldon).
    """

    def __init__(
        self,
        weights: Mapping[str, int],
        *,
        shadow: str | None = None,
        shadow_percent: int = 0,
        seed: int | None = None,
    ) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._names: tuple[str, ...] = ()
        self._cumulative: list[float] = []
        self.shadow = shadow
        self.shadow_percent = 0
        self.set_weights(weights)
        self.set_shadow(shadow, shadow_percent)

    @property
    def weights(self) -> dict[str, int]:
        """The current weights (a copy)."""
        return dict(self._weights)

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Replace the weights of the non-shadow predictors (atomically)."""
        if not weights:
            raise ConfigError("traffic: at least one non-shadow predictor is needed")
        for name, weight in weights.items():
            if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
                raise ConfigError(f"traffic: weight of predictor '{name}' must be an int >= 0")
        names = tuple(weights)
        values = [float(weights[n]) for n in names]
        if len(names) > 1 and sum(values) == 0:
            values = [1.0] * len(names)
        cumulative = list(itertools.accumulate(values))
        with self._lock:
            self._weights = dict(weights)
            self._names = names
            self._cumulative = cumulative

    def set_shadow(self, shadow: str | None, percent: int = 0) -> None:
        """Set (or with ``None`` remove) the shadow predictor and its mirrored share."""
        if not 0 <= percent <= 100:
            raise ConfigError(f"traffic: shadow percentage {percent} is not within 0..100")
        with self._lock:
            self.shadow = shadow
            self.shadow_percent = percent

    def choose(self) -> Route:
        """The predictor for one request and, when mirrored, the shadow."""
        with self._lock:
            names, cumulative = self._names, self._cumulative
            if len(names) == 1:
                chosen = names[0]
            else:
                point = self._rng.random() * cumulative[-1]
                chosen = names[min(bisect.bisect_right(cumulative, point), len(names) - 1)]
            shadow = self.shadow
            partial = shadow is not None and self.shadow_percent not in (0, 100)
            if partial and self._rng.random() * 100 >= self.shadow_percent:
                shadow = None
        return Route(chosen, shadow)


def split_for(
    predictors: Sequence[tuple[str, int, bool]], *, seed: int | None = None
) -> TrafficSplit:
    """A split from ``(name, traffic, shadow)`` triples, as in ``spec.predictors``."""
    weights = {name: traffic for name, traffic, shadow in predictors if not shadow}
    shadows = [(name, traffic) for name, traffic, shadow in predictors if shadow]
    if len(shadows) > 1:
        raise ConfigError("traffic: at most one predictor can be a shadow")
    shadow, percent = shadows[0] if shadows else (None, 0)
    return TrafficSplit(weights, shadow=shadow, shadow_percent=percent, seed=seed)


class Mirror:
    """Fire-and-forget calls to a shadow predictor, at most ``limit`` at a time.

    A call over the limit is dropped rather than queued (``submit`` says so; the gateway
    counts it in ``seldon_graph_shadow_dropped_total``): the shadow must never slow the
    live path down. Replies and errors are discarded.
    """

    def __init__(self, limit: int = 64) -> None:
        if limit < 1:
            raise ConfigError("shadow mirror limit must be >= 1")
        self.limit = limit
        self._tasks: set[asyncio.Task[object]] = set()

    def submit(self, call: Callable[[], Awaitable[object]]) -> bool:
        """Start ``call()`` in the background; False when it was dropped."""
        if len(self._tasks) >= self.limit:
            return False
        task: asyncio.Task[object] = asyncio.ensure_future(self._run(call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    @staticmethod
    async def _run(call: Callable[[], Awaitable[object]]) -> object:
        try:
            return await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a shadow's failure never reaches the client
            log.debug("shadow call failed: %s", exc)
            return None

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for mirrored calls, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
