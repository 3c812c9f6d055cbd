"""Supervised node processes (slow, real): readiness, restart of a dead node, stop.

What the tests know of a running node they read where users do: ``RUN_DIR/nodes.json``
and the predictor's ``not_ready`` nodes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from graph.runner.plan import plan_deployment
from graph.runner.startup import NodeStartError
from graph.runner.supervisor import RunnerSettings, Supervisor
from graph.spec import load_deployment
from tests.fixtures.graphs import ROOT, tensor, toy_container, toy_manifest_doc

KEY = "toy/canary/scale"


def node_state(settings: RunnerSettings) -> dict[str, Any]:
    """The supervised node's entry in ``nodes.json``."""
    return dict(json.loads((settings.run_dir / "nodes.json").read_text())[KEY])


def one_node_plans(tmp_path: Path, model: str = "Scale") -> list:
    doc = toy_manifest_doc(shadow=False)
    doc["spec"]["predictors"] = [doc["spec"]["predictors"][1]]
    doc["spec"]["predictors"][0]["traffic"] = 100
    doc["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"] = [
        toy_container("scale", model, "MODEL")
    ]
    return plan_deployment(load_deployment(doc), None)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_dead_node_is_marked_down_restarted_and_everything_stops(tmp_path: Path) -> None:
    settings = RunnerSettings(run_dir=tmp_path / "run", cwd=ROOT, ready_timeout=60,
                              backoff_start=0.2, poll_interval=0.05)  # fmt: skip
    changes: list[tuple[str, bool]] = []
    supervisor = Supervisor(
        one_node_plans(tmp_path), settings, lambda p, r: changes.append((p.node, r))
    )
    pgids: list[int] = []

    async def go() -> None:
        await supervisor.start()
        try:
            (endpoint,) = supervisor.endpoints("toy", "canary").values()
            url = f"http://127.0.0.1:{endpoint.http_port}/predict"
            reply = await asyncio.to_thread(requests.post, url, json=tensor([1, 2]), timeout=10)
            assert reply.json()["data"]["tensor"]["values"] == [3.0, 6.0]
            first = node_state(settings)
            assert first["pid"] is not None and first["ready"] and first["restarts"] == 0
            pgids.append(first["pid"])
            os.kill(first["pid"], signal.SIGKILL)  # the main process only: its children linger
            deadline = time.monotonic() + 10
            while not supervisor.not_ready("toy", "canary") and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert supervisor.not_ready("toy", "canary") == ["scale"]
            assert not group_alive(pgids[0]) or await _gone_soon(pgids[0])
            deadline = time.monotonic() + 60
            while supervisor.not_ready("toy", "canary") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            state = node_state(settings)
            assert not supervisor.not_ready("toy", "canary") and state["ready"]
            assert state["restarts"] == 1
            assert state["pid"] is not None and state["pid"] != pgids[0]
            pgids.append(state["pid"])
            reply = await asyncio.to_thread(requests.post, url, json=tensor([1]), timeout=10)
            assert reply.status_code == 200  # same ports after the restart
            assert (state["http_port"], state["grpc_port"]) == (
                first["http_port"],
                first["grpc_port"],
            )
        finally:
            await supervisor.stop()

    try:
        asyncio.run(go())
    finally:
        supervisor.kill_all()
    assert changes == [("scale", True), ("scale", False), ("scale", True)]
    assert not any(group_alive(pgid) for pgid in pgids)
    assert "=== start 2" in (settings.run_dir / "toy.canary.scale.log").read_text()


async def _gone_soon(pgid: int) -> bool:
    for _ in range(50):
        if not group_alive(pgid):
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.slow
def test_a_node_that_cannot_start_fails_fast_with_its_log(tmp_path: Path) -> None:
    settings = RunnerSettings(run_dir=tmp_path / "run", cwd=ROOT, ready_timeout=60)
    supervisor = Supervisor(one_node_plans(tmp_path, model="NoSuchClass"), settings)
    with pytest.raises(NodeStartError, match=r"(?s)exited with code .*NoSuchClass") as caught:
        asyncio.run(supervisor.start())
    assert "likely fix: MODEL_NAME 'tests.fixtures.toy_components.NoSuchClass' cannot be" in str(
        caught.value
    )
    state = node_state(settings)  # written once the processes were started
    assert state["pid"] is not None and not group_alive(state["pid"]) and not state["ready"]
