"""One settings class per component, built once from the graph node's ``parameters``.

Seldon passes a node's ``parameters`` to the component constructor as keyword arguments
(already converted to INT/FLOAT/DOUBLE/STRING/BOOL). Each component builds its settings
there with ``build_settings`` and passes the object down; nothing reads the environment
deeper in the code. Unknown or invalid parameters fail fast with a ``ConfigError``.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Extra, Field, ValidationError, validator

from model import devices
from model.errors import ConfigError


class _Settings(BaseModel):
    class Config:
        extra = Extra.forbid
        allow_mutation = False


class TransformerSettings(_Settings):
    """Parameters of ``model.transformer.ImageTransformer``."""

    model_uri: str = Field(..., description="Artifact directory holding metadata.json.")
    max_batch_size: int = Field(64, gt=0, description="Most images in one request.")
    max_pixels: int = Field(
        16_777_216, gt=0, description="Most pixel values (all images, all channels) per request."
    )


class DriftSettings(_Settings):
    """Parameters of ``model.drift.DriftDetector``."""

    model_uri: str = Field(..., description="Artifact directory: drift reference and encoder.")
    window_size: int = Field(64, gt=1, description="Instances per drift test window.")
    p_val: float = Field(0.05, gt=0.0, lt=1.0, description="Significance level of the test.")
    n_permutations: int = Field(100, gt=0, description="Permutations of the MMD test.")
    buffer_windows: int = Field(
        4, gt=0, description="Bounded buffer size, in windows; beyond it instances are dropped."
    )
    device: str = Field("cpu", description="auto | cpu | cuda | cuda:N: encoder and MMD test.")
    seed: int = Field(0, ge=0, description="Seed of the permutation test (window i uses seed + i).")

    _device_ok = validator("device", allow_reuse=True)(devices.check_spec)


class PredictorSettings(_Settings):
    """Parameters of ``model.predictor.TorchPredictor``."""

    model_uri: str = Field(..., description="Artifact directory with weights and metadata.json.")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    batching: bool = Field(True, description="Dynamic batching across concurrent requests.")
    max_batch_size: int = Field(32, gt=0, description="Most samples (not requests) per batch.")
    max_delay_ms: float = Field(
        2.0, ge=0.0, description="Longest wait for more requests while others are arriving."
    )
    amp: Literal["auto", "off", "fp16", "bf16"] = Field(
        "auto", description="Autocast dtype on CUDA (auto: bf16 if supported, else fp16)."
    )
    warmup: bool = Field(True, description="Run a warm-up batch in load() before ready.")
    max_request_size: int = Field(
        256, gt=0, description="Most samples in one request; more is refused (HTTP 413)."
    )
    request_timeout_s: float = Field(
        30.0, gt=0.0, description="Longest wait for a batched result before a 504 Timeout."
    )

    _device_ok = validator("device", allow_reuse=True)(devices.check_spec)


S = TypeVar("S", bound=_Settings)


def build_settings(cls: type[S], component: str, params: dict[str, Any]) -> S:
    """Build ``cls`` from node parameters, or raise a ConfigError naming each bad field."""
    try:
        return cls(**params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid parameters for {component}: {problems}") from exc
