"""Plain image functions shared by training and the transformer (no Seldon here)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def normalise(
    batch: np.ndarray, mean: Sequence[float], std: Sequence[float], size: int
) -> np.ndarray:
    """Float NCHW in [0, 1] (C = 1 or 3, any H x W) -> float32 (N, 3, size, size), normalised.

    Resizes bilinearly (with antialiasing when shrinking) to ``size`` x ``size``, repeats a
    single channel to three, then applies ``(x - mean) / std`` per channel.
    """
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return ((x - m) / s).contiguous().numpy()
