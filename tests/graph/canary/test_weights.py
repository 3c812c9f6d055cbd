"""The pure canary operations on a parsed SeldonDeployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from graph.canary import status, weights
from model.errors import ConfigError, ManifestError

MANIFEST = Path(__file__).resolve().parents[3] / "graph" / "seldondeployment.yaml"


def doc(*preds: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"predictors": [dict(p) for p in preds]}}


def traffic(d: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p.get("traffic", 0) for p in d["spec"]["predictors"]}


def test_set_weights_returns_a_copy_and_leaves_the_input_alone() -> None:
    original = yaml.safe_load(MANIFEST.read_text())
    out = weights.set_weights(original, {"main": 75, "canary": 25})
    assert traffic(out) == {"main": 75, "canary": 25}
    assert traffic(original) == {"main": 90, "canary": 10}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"nope": 10}, "unknown predictor 'nope'"),
        ({"main": 75, "canary": 24}, "must sum to 100, not 99"),
        ({"main": -5, "canary": 105}, "within 0..100"),
        ({"main": 101}, "within 0..100"),
    ],
)
def test_set_weights_refuses_bad_requests(request_: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        weights.set_weights(yaml.safe_load(MANIFEST.read_text()), request_)


def test_shadow_traffic_is_a_mirror_percentage_outside_the_sum() -> None:
    d = doc({"name": "main", "traffic": 100}, {"name": "shadow", "shadow": True, "traffic": 20})
    assert traffic(weights.set_weights(d, {"shadow": 50})) == {"main": 100, "shadow": 50}
    with pytest.raises(ManifestError, match="shadow: its traffic is a mirror percentage"):
        weights.set_weights(d, {"main": 80, "shadow": 20})


def test_canary_shorthand_splits_between_two_live_predictors() -> None:
    d = doc({"name": "main", "traffic": 90}, {"name": "canary", "traffic": 10})
    assert weights.canary_weights(weights.predictors_of(d), 25) == {"canary": 25, "main": 75}


def test_canary_shorthand_refused_with_three_live_predictors() -> None:
    d = doc(
        {"name": "main", "traffic": 80}, {"name": "a", "traffic": 10}, {"name": "b", "traffic": 10}
    )
    with pytest.raises(ConfigError, match="ambiguous"):
        weights.canary_weights(weights.predictors_of(d), 25)
    with pytest.raises(ConfigError, match="exactly two live predictors, found 3"):
        weights.canary_weights(weights.predictors_of(d), 25, canary="a")


def test_canary_shorthand_refuses_a_shadow() -> None:
    d = doc({"name": "main", "traffic": 100}, {"name": "s", "shadow": True})
    with pytest.raises(ConfigError, match=r"no canary.*s is a shadow"):
        weights.canary_weights(weights.predictors_of(d), 25)
    with pytest.raises(ConfigError, match="mirror percentage"):
        weights.canary_weights(weights.predictors_of(d), 25, canary="s")


def test_rollback_moves_the_canary_share_to_main() -> None:
    out = weights.rollback(yaml.safe_load(MANIFEST.read_text()))
    assert traffic(out) == {"main": 100, "canary": 0}


def test_promote_moves_graph_components_and_version_to_main() -> None:
    original = yaml.safe_load(MANIFEST.read_text())
    out = weights.promote(original)
    (main,) = out["spec"]["predictors"]
    canary = original["spec"]["predictors"][1]
    assert main["name"] == "main" and main["traffic"] == 100
    assert main["graph"] == canary["graph"]
    assert main["componentSpecs"] == canary["componentSpecs"]
    assert main["labels"] == {"version": "v2"}


def test_promote_keep_canary_leaves_it_at_zero() -> None:
    out = weights.promote(yaml.safe_load(MANIFEST.read_text()), remove=False)
    assert traffic(out) == {"main": 100, "canary": 0}


def test_promoting_a_shadow_needs_the_flag() -> None:
    d = doc(
        {"name": "main", "traffic": 100, "graph": {"name": "a"}},
        {"name": "s", "shadow": True, "graph": {"name": "b"}},
    )
    with pytest.raises(ConfigError, match="needs --allow-shadow"):
        weights.promote(d, canary="s")
    out = weights.promote(d, canary="s", allow_shadow=True)
    assert out["spec"]["predictors"] == [{"name": "main", "traffic": 100, "graph": {"name": "b"}}]


def test_status_reads_versions_from_labels_then_model_uri() -> None:
    d = yaml.safe_load(MANIFEST.read_text())
    del d["spec"]["predictors"][1]["labels"]
    rows = status.status(d)
    assert [(r.name, r.traffic, r.version, r.role) for r in rows] == [
        ("main", 90, "v1", "main"),
        ("canary", 10, "v2", "canary"),
    ]
    assert "PREDICTOR" in status.format_rows(rows)


@pytest.mark.parametrize("bad", ["main", "main=", "=5", "main=7.5", "main=x"])
def test_parse_weights_rejects_bad_syntax(bad: str) -> None:
    with pytest.raises(weights.WeightSyntaxError):
        weights.parse_weights([bad])
