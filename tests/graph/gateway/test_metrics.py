"""The gateway's Prometheus metrics, fed by the transport-free dispatch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from graph.gateway.dispatch import Gateway
from graph.gateway.metrics import DRIFT_IS_DRIFT, DRIFT_P_VALUE, DRIFT_WINDOW
from graph.payload import JsonPayload
from tests.fixtures.graphs import tensor


def test_replies_drift_tags_become_per_predictor_gauges(
    manifest: Path, toy_gateway: Callable[..., Gateway]
) -> None:
    gateway = toy_gateway(manifest, {"canary": {"drift.is_drift": True, "drift.window": 2,
                                                "drift.p_value": 0.002}})  # fmt: skip
    runtime = gateway.runtimes[0]
    runtime.split.set_weights({"main": 0, "canary": 100})
    asyncio.run(gateway.call(runtime, "predict", JsonPayload(tensor([1])), "p", "rest"))
    text = gateway.metrics.exposition().decode()
    assert f'{DRIFT_IS_DRIFT}{{deployment="toy",predictor="canary"}} 1.0' in text
    assert f'{DRIFT_WINDOW}{{deployment="toy",predictor="canary"}} 2.0' in text
    assert f'{DRIFT_P_VALUE}{{deployment="toy",predictor="canary"}} 0.002' in text
    assert 'predictor="main"} ' not in text.split(DRIFT_IS_DRIFT, 1)[1][:300]
