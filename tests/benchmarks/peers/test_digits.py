"""The peers' torch-only classifier serves what the project's classifier serves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import payloads
from benchmarks.peers import digits


def test_split_rows_gives_each_request_its_rows() -> None:
    probs = np.arange(12, dtype=np.float32).reshape(6, 2)
    parts = digits.split_rows(probs, [1, 3, 2])
    assert [p.shape[0] for p in parts] == [1, 3, 2]
    np.testing.assert_array_equal(np.concatenate(parts), probs)


def test_split_rows_refuses_a_length_mismatch() -> None:
    with pytest.raises(digits.DigitsError, match="5 output rows for 6 input rows"):
        digits.split_rows(np.zeros((5, 10)), [3, 3])


def test_v2_input_reads_the_benchmark_body(artifacts_dir: Path) -> None:
    inputs = payloads.load_inputs(artifacts_dir)
    body = payloads.v2_rest(inputs)
    np.testing.assert_array_equal(digits.v2_input(body), inputs.normalised)
    np.testing.assert_array_equal(digits.v2_input(json.loads(body)), inputs.normalised)


@pytest.mark.parametrize(
    "request_body",
    [{"inputs": []}, {"inputs": [{"name": "x", "shape": [1], "datatype": "INT8", "data": [1]}]}],
)
def test_v2_input_wants_one_fp32_tensor(request_body: dict) -> None:
    with pytest.raises(digits.DigitsError, match="one FP32 input"):
        digits.v2_input(request_body)


def test_v2_output_is_a_flat_fp32_tensor() -> None:
    out = digits.v2_output(np.full((2, 10), 0.1, dtype=np.float32))
    (tensor,) = out["outputs"]
    assert (tensor["shape"], tensor["datatype"], len(tensor["data"])) == ([2, 10], "FP32", 20)


def test_loaded_model_matches_the_project_classifier(artifacts_dir: Path) -> None:
    from model.inference import load_model
    from model.settings import PredictorSettings, build_settings

    uri = str((artifacts_dir / "v1").resolve())
    ours = load_model(build_settings(PredictorSettings, "test", {"model_uri": uri}))
    peer = digits.Digits.load(uri)
    x = np.repeat(payloads.load_inputs(artifacts_dir).normalised, 3, axis=0)
    np.testing.assert_allclose(peer.run(x), ours.run(x), atol=1e-5)
    with pytest.raises(digits.DigitsError, match=r"expected shape \(N, 3, 32, 32\)"):
        peer.run(np.zeros((1, 1, 32, 32), dtype=np.float32))


def test_a_tampered_weights_file_is_refused(artifacts_dir: Path, tmp_path: Path) -> None:
    source = artifacts_dir / "v1"
    (tmp_path / "metadata.json").write_bytes((source / "metadata.json").read_bytes())
    (tmp_path / "weights.pt").write_bytes((source / "weights.pt").read_bytes() + b"x")
    with pytest.raises(digits.DigitsError, match="sha256 mismatch"):
        digits.Digits.load(tmp_path)
