"""``DigitsHandler``'s batch path: many TorchServe requests, one forward pass, one reply each.

TorchServe itself runs only in ``make bench``; here the handler gets what TorchServe's
worker hands it (a list of ``{"body": ...}`` items and a context with the model's YAML
config and ``set_response_status``), with the real weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import payloads
from benchmarks.peers.digits import Digits, DigitsError
from benchmarks.peers.torchserve.handler import DigitsHandler


class Context:
    """The two things ``DigitsHandler`` uses of TorchServe's ``ts.context.Context``."""

    def __init__(self, model_uri: str) -> None:
        self.model_yaml_config = {"batchSize": 32, "handler": {"model_uri": model_uri}}
        self.statuses: dict[int, tuple[int, str]] = {}

    def set_response_status(self, code: int, phrase: str, idx: int = 0) -> None:
        self.statuses[idx] = (code, phrase)


@pytest.fixture(scope="module")
def handler_and_context(artifacts_dir: Path) -> tuple[DigitsHandler, Context]:
    context = Context(str(artifacts_dir / "v1"))
    handler = DigitsHandler()
    handler.initialize(context)
    return handler, context


def _body(x: np.ndarray) -> dict[str, Any]:
    return {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                        "data": x.ravel().tolist()}]}  # fmt: skip


def test_a_batch_is_answered_per_request_in_order(
    handler_and_context: tuple[DigitsHandler, Context], artifacts_dir: Path
) -> None:
    handler, context = handler_and_context
    x = payloads.load_inputs(artifacts_dir).normalised
    three = np.concatenate([x, np.zeros_like(x), x])
    data = [{"body": _body(x)}, {"body": json.dumps(_body(three)).encode()},
            {"data": bytearray(json.dumps(_body(x)).encode())}]  # fmt: skip
    replies = handler.handle(data, context)
    assert [r["outputs"][0]["shape"] for r in replies] == [[1, 10], [3, 10], [1, 10]]
    alone = Digits.load(artifacts_dir / "v1").run(three)
    np.testing.assert_allclose(replies[1]["outputs"][0]["data"], alone.ravel(), atol=1e-5)
    assert context.statuses == {}


def test_a_bad_request_fails_alone(handler_and_context: tuple[DigitsHandler, Context]) -> None:
    handler, context = handler_and_context
    good, small = np.zeros((1, 3, 32, 32), np.float32), np.zeros((1, 3, 8, 8), np.float32)
    data = [{"body": _body(good)}, {"body": b"{not json"}, {"body": _body(small)}]
    replies = handler.handle(data, context)
    assert replies[0]["outputs"][0]["shape"] == [1, 10]
    assert {i: code for i, (code, _) in context.statuses.items()} == {1: 400, 2: 400}
    assert "expected shape" in context.statuses[2][1]


def test_a_model_config_without_the_weights_is_refused() -> None:
    context = Context("")
    context.model_yaml_config = {"batchSize": 32}
    with pytest.raises(DigitsError, match=r"handler\.model_uri"):
        DigitsHandler().initialize(context)
