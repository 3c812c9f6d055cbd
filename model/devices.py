"""Devices: the one reading of a ``device`` parameter (``auto | cpu | cuda | cuda:N``) for
every component (the predictor and the drift detector).

``check_spec`` validates the text when settings are built (no torch import, nothing
touched); ``select`` turns it into a ``torch.device`` in ``load()``, after Seldon forks,
refusing a CUDA device that is not there. ``auto`` is ``cuda`` when available, else ``cpu``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.errors import ConfigError

if TYPE_CHECKING:
    import torch

SPECS = "auto, cpu, cuda or cuda:N"


def check_spec(spec: str) -> str:
    """``spec`` itself when it is a device we serve on; ``ValueError`` otherwise."""
    if spec in ("auto", "cpu", "cuda") or (spec.startswith("cuda:") and spec[5:].isdigit()):
        return spec
    raise ValueError(f"must be {SPECS}")


def select(spec: str) -> torch.device:
    """``auto | cpu | cuda | cuda:N`` -> a torch device; ``ConfigError`` if not present."""
    import torch

    try:
        check_spec(spec)
    except ValueError as exc:
        raise ConfigError(f"device={spec!r} {exc}") from None
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"device={spec!r} but CUDA is not available; use auto or cpu")
    device = torch.device(spec)
    index = device.index if device.index is not None else 0
    if index >= torch.cuda.device_count():
        raise ConfigError(f"device={spec!r} but only {torch.cuda.device_count()} GPU(s) exist")
    return torch.device("cuda", index)
