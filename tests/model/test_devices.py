"""model.devices: one reading of ``device`` for the predictor and the drift detector."""

from __future__ import annotations

import pytest
import torch

from model.devices import check_spec, select
from model.errors import ConfigError
from model.settings import DriftSettings, PredictorSettings, build_settings


@pytest.mark.parametrize("spec", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_accepted_specs(spec: str) -> None:
    assert check_spec(spec) == spec


@pytest.mark.parametrize("spec", ["gpu", "CUDA", "cuda:", "cuda:x", "mps", "", "cpu:0"])
def test_both_components_refuse_the_same_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="auto, cpu, cuda or cuda:N"):
        check_spec(spec)
    for cls, name in ((PredictorSettings, "TorchPredictor"), (DriftSettings, "DriftDetector")):
        with pytest.raises(ConfigError, match=rf"{name}: device: must be auto, cpu, cuda"):
            build_settings(cls, name, {"model_uri": "/mnt/models", "device": spec})
    with pytest.raises(ConfigError, match="must be auto, cpu, cuda or cuda:N"):
        select(spec)


def test_select_gives_a_present_device() -> None:
    assert select("cpu") == torch.device("cpu")
    assert select("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            select("cuda")
