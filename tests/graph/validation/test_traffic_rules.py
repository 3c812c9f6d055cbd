"""The one set of traffic rules (graph.validation.traffic): every finding for
``seldon-graph validate``, the first as an error for canary edits and runtime changes."""

from __future__ import annotations

from typing import Any

import pytest

from graph.validation.traffic import TRAFFIC_SUM_PATH, check_traffic, traffic_findings
from model.errors import ManifestError


def pred(name: str, traffic: Any = None, shadow: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if traffic is not None:
        out["traffic"] = traffic
    if shadow is not None:
        out["shadow"] = shadow
    return out


@pytest.mark.parametrize(
    ("preds", "paths"),
    [
        ([pred("a", 75), pred("b", 25)], []),
        ([pred("a", 75), pred("b", 20)], [TRAFFIC_SUM_PATH]),
        ([pred("a")], []),
        ([pred("a", 50)], ["spec.predictors[0].traffic"]),
        ([pred("a", 100), pred("s", 40, True)], []),
        ([pred("a", 100), pred("s", 150, True)], ["spec.predictors[1].traffic"]),
        ([pred("a", 100), pred("s", 0, "yes")], ["spec.predictors[1].shadow"]),
        (
            [pred("a"), pred("s", shadow=True), pred("t", shadow=True)],
            ["spec.predictors[2].shadow"],
        ),
        ([pred("s", shadow=True)], ["spec.predictors[0].shadow"]),
        ([pred("a", "50"), pred("b", 50)], ["spec.predictors[0].traffic"]),
    ],
)
def test_findings_and_the_error_agree(preds: list[dict[str, Any]], paths: list[str]) -> None:
    found = traffic_findings(list(enumerate(preds)))
    assert [f.path for f in found] == paths
    if not paths:
        check_traffic(preds)
        return
    with pytest.raises(ManifestError) as caught:
        check_traffic(preds)
    assert caught.value.path == paths[0] and caught.value.message == str(found[0])


def test_a_bad_sum_lists_the_shares_and_explains_a_shadows_weight() -> None:
    preds = [pred("main", 80), pred("canary", 10), pred("copy", 30, True)]
    [finding] = traffic_findings(list(enumerate(preds)), "predictors")
    assert finding.path == "predictors[*].traffic"
    assert "must sum to 100, not 90 (main=80, canary=10)" in finding.message
    assert "copy is a shadow: its traffic is a mirror percentage" in finding.message
