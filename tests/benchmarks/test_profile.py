"""The profile summary: collapsed py-spy stacks into categories and leaf frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from seldon_core.proto import prediction_pb2

from benchmarks import payloads, profile
from model.seldon import message

P = 'process 7:"seldon"'
RAW = "\n".join([
    f"{P};Thread 1;run (model/batching/batcher.py:80);forward (torch/nn/modules/conv.py:560) 30",
    f"{P};Thread 2;handle (gunicorn/workers/gthread.py:271);dumps (json/encoder.py:200) 10",
    f"{P};Thread 3;wait (model/batching/batcher.py:120);Condition.wait (threading.py:331) 50",
    f"{P};Thread 4;serve (seldon_core/wrapper.py:80) 10",
    "not a stack line",
])  # fmt: skip


def test_collapsed_stacks_are_counted_by_leaf_category_and_waits_set_apart() -> None:
    per_process, leaves, categories = profile.parse_raw(RAW)
    assert sum(per_process.values()) == 100
    assert leaves["forward (torch/nn/modules/conv.py:560)"] == 30
    assert categories == {
        "forward (torch)": 30,
        "JSON / message codec": 10,
        "waiting (blocked thread)": 50,
        "Seldon wrapper": 10,
    }


def test_the_innermost_known_frame_decides_the_category() -> None:
    frames = ["serve (seldon_core/wrapper.py:1)", "read (model/seldon/message.py:9)", "x (y.py:1)"]
    assert profile.categorise(frames) == "JSON / message codec"
    assert profile.categorise(["main (app.py:1)"]) == "other"


def test_grpc_tensor_payload_carries_the_same_image_as_tftensor(artifacts_dir: Path) -> None:
    inputs = payloads.load_inputs(artifacts_dir)
    arrays = [
        message.read_message(
            prediction_pb2.SeldonMessage.FromString(payloads.seldon_grpc(kind, inputs)),
            max_values=None, limit="-",
        )
        for kind in ("tensor", "tftensor")
    ]  # fmt: skip
    assert arrays[0].shape == arrays[1].shape == inputs.normalised.shape
    np.testing.assert_allclose(arrays[0], arrays[1], rtol=0, atol=0)
