"""Scenario definitions: which cases run, and the manifest without the drift detector."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmarks import nodrift, scenarios

MANIFEST = Path(__file__).resolve().parents[2] / "graph" / "seldondeployment.yaml"


def test_quick_runs_every_scenario() -> None:
    cases = scenarios.cases_for(scenarios.SCENARIOS, (1, 32), quick=True)
    assert {c.name for c in cases} == set(scenarios.SCENARIOS)
    assert cases[-1].name == "raw"  # raw needs the batch size batched formed first
    assert {c.payload for c in cases if c.name == "raw"} == {
        "batch-1", "batch-32", "batch-64", "batch-formed"}  # fmt: skip


def test_graph_and_classifier_run_over_rest_and_grpc() -> None:
    cases = scenarios.cases_for(("baseline", "batched", "graph"), (1, 8), quick=False)
    pairs = {(c.name, c.transport) for c in cases}
    assert pairs == {(n, t) for n in ("baseline", "batched", "graph") for t in ("rest", "grpc")}
    assert all(c.only_level is None for c in cases)


def test_payload_formats_cover_graph_and_classifier() -> None:
    cases = scenarios.cases_for(("payload",), (1, 8, 32, 64), quick=False)
    assert {(c.target, c.payload) for c in cases} == {
        ("graph", "pixels-ndarray"), ("graph", "pixels-tensor"), ("graph", "binData"),
        ("batched", "ndarray"), ("batched", "tensor")}  # fmt: skip
    assert {c.only_level for c in cases} == {1, 32}


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenarios"):
        scenarios.cases_for(("bogus",), (1,), quick=True)


def test_without_drift_node_splices_its_children_and_drops_its_container() -> None:
    document = yaml.safe_load(MANIFEST.read_text())
    out = nodrift.without_node(document, nodrift.DRIFT_NODE)
    for before, after in zip(document["spec"]["predictors"], out["spec"]["predictors"],
                             strict=True):  # fmt: skip
        graph = after["graph"]
        assert graph["name"] == "transformer"
        assert [c["name"] for c in graph["children"]] == ["classifier"]
        assert graph["children"][0] == before["graph"]["children"][0]["children"][0]
        containers = [c["name"] for cs in after["componentSpecs"]
                      for c in cs["spec"]["containers"]]  # fmt: skip
        assert containers == ["transformer", "classifier"]
        assert after["traffic"] == before["traffic"]
    # the input document is left untouched
    assert document["spec"]["predictors"][0]["graph"]["children"][0]["name"] == "drift-detector"


def test_without_the_root_node_is_refused() -> None:
    document = yaml.safe_load(MANIFEST.read_text())
    with pytest.raises(ValueError, match="root"):
        nodrift.without_node(document, "transformer")
