"""Traffic split and shadow mirroring (pure, seeded)."""

from __future__ import annotations

import asyncio
import functools
import math
from collections import Counter
from typing import Any

import pytest

from graph.gateway.dispatch import DeploymentRuntime, Gateway
from graph.gateway.metrics import SHADOW_DROPPED, GatewayMetrics
from graph.gateway.traffic import Mirror, TrafficSplit, split_for
from graph.payload import JsonPayload, Payload
from graph.spec import load_deployment
from model.errors import ConfigError
from tests.fixtures.graphs import tensor, toy_manifest_doc


def shares(split: TrafficSplit, n: int) -> Counter[str]:
    return Counter(split.choose().predictor for _ in range(n))


def within_binomial(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_split_follows_weights_within_binomial_bounds() -> None:
    n = 20_000
    counts = shares(TrafficSplit({"main": 90, "canary": 10}, seed=3), n)
    assert set(counts) == {"main", "canary"}
    assert within_binomial(counts["canary"], n, 0.10)


def test_three_way_split() -> None:
    n = 20_000
    counts = shares(TrafficSplit({"a": 50, "b": 30, "c": 20}, seed=5), n)
    for name, p in (("a", 0.5), ("b", 0.3), ("c", 0.2)):
        assert within_binomial(counts[name], n, p), counts


def test_same_seed_same_choices() -> None:
    a = TrafficSplit({"m": 50, "c": 50}, seed=11)
    b = TrafficSplit({"m": 50, "c": 50}, seed=11)
    assert [a.choose() for _ in range(200)] == [b.choose() for _ in range(200)]
    assert len({r.predictor for r in (a.choose() for _ in range(200))}) == 2


def test_single_predictor_gets_everything_whatever_its_weight() -> None:
    assert shares(TrafficSplit({"only": 0}, seed=1), 500) == Counter({"only": 500})


def test_zero_weight_predictor_gets_nothing() -> None:
    assert shares(TrafficSplit({"main": 100, "canary": 0}, seed=1), 2000)["canary"] == 0


def test_set_weights_at_runtime_moves_traffic() -> None:
    split = TrafficSplit({"main": 100, "canary": 0}, seed=2)
    assert shares(split, 1000)["canary"] == 0
    split.set_weights({"main": 0, "canary": 100})
    assert shares(split, 1000)["canary"] == 1000
    assert split.weights == {"main": 0, "canary": 100}


@pytest.mark.parametrize("weights", [{}, {"a": -1}, {"a": 1.5}, {"a": True}])
def test_bad_weights_are_refused(weights: dict) -> None:
    with pytest.raises(ConfigError):
        TrafficSplit(weights)


def test_shadow_mirrors_every_request_when_its_traffic_is_zero() -> None:
    split = split_for([("main", 100, False), ("shadow", 0, True)], seed=1)
    routes = [split.choose() for _ in range(300)]
    assert all(r.predictor == "main" and r.shadow == "shadow" for r in routes)


def test_shadow_percentage_mirrors_that_share() -> None:
    n = 10_000
    split = split_for([("main", 100, False), ("shadow", 25, True)], seed=4)
    mirrored = sum(split.choose().shadow == "shadow" for _ in range(n))
    assert within_binomial(mirrored, n, 0.25)


def test_at_most_one_shadow() -> None:
    with pytest.raises(ConfigError):
        split_for([("m", 100, False), ("s1", 0, True), ("s2", 0, True)])


def test_mirror_runs_calls_in_background_and_discards_failures() -> None:
    async def go() -> tuple[list[int], list[str]]:
        seen: list[int] = []
        failed: list[str] = []
        mirror = Mirror(limit=8)

        async def ok(i: int) -> int:
            await asyncio.sleep(0.01)
            seen.append(i)
            return i

        async def boom() -> None:
            failed.append("raised")
            raise RuntimeError("shadow down")

        for i in range(3):
            assert mirror.submit(functools.partial(ok, i))
        assert mirror.submit(boom)
        await mirror.drain(timeout=5)
        return sorted(seen), failed

    seen, failed = asyncio.run(go())
    assert seen == [0, 1, 2] and failed == ["raised"]  # every call ran, the failure was kept


def test_mirror_drops_calls_over_its_limit() -> None:
    async def go() -> list[bool]:
        mirror = Mirror(limit=2)
        gate = asyncio.Event()

        async def wait() -> None:
            await gate.wait()

        results = [mirror.submit(wait) for _ in range(5)]
        gate.set()
        await mirror.drain(timeout=5)
        results.append(mirror.submit(wait))  # room again once the first calls finished
        gate.set()
        await mirror.drain(timeout=5)
        return results

    assert asyncio.run(go()) == [True, True, False, False, False, True]


class Blocking:
    """A predictor executor whose calls wait for ``gate``; counts its calls."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate
        self.calls = 0

    async def predict(self, payload: Payload, puid: str, headers: Any = ()) -> Payload:
        self.calls += 1
        await self.gate.wait()
        return payload

    async def feedback(self, payload: Payload, puid: str, headers: Any = ()) -> Payload:
        return await self.predict(payload, puid)


def test_the_gateway_counts_shadow_calls_dropped_over_the_mirror_limit() -> None:
    spec = load_deployment(toy_manifest_doc(main=100, canary=0))
    metrics = GatewayMetrics()

    async def go() -> tuple[int, int]:
        gate, live_gate = asyncio.Event(), asyncio.Event()
        live_gate.set()
        shadow, main = Blocking(gate), Blocking(live_gate)
        split = split_for([("main", 100, False), ("shadow", 0, True)], seed=1)
        runtime = DeploymentRuntime(spec, {"main": main, "shadow": shadow}, split, Mirror(2))
        gateway = Gateway([runtime], metrics)
        for _ in range(5):  # the live path answers every request at once
            await gateway.call(runtime, "predict", JsonPayload(tensor([1])), "p", "rest")
        gate.set()
        await gateway.drain_shadows(5)
        return main.calls, shadow.calls

    assert asyncio.run(go()) == (5, 2)
    dropped = metrics.registry.get_sample_value(
        SHADOW_DROPPED, {"deployment": "toy", "predictor": "shadow"}
    )
    assert dropped == 3


def test_mirror_drain_cancels_what_outlives_the_timeout() -> None:
    async def go() -> list[str]:
        cancelled: list[str] = []
        mirror = Mirror(limit=4)

        async def slow() -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.append("cancelled")
                raise

        mirror.submit(slow)
        await asyncio.sleep(0)
        await mirror.drain(timeout=0.05)
        return cancelled

    assert asyncio.run(go()) == ["cancelled"]
