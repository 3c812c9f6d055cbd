"""The networks: the torchvision classifier (no pretrained weights) and the drift encoder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.errors import ArtifactError

if TYPE_CHECKING:
    from torch import nn

DRIFT_ENCODING_DIM = 32
DRIFT_ENCODER_SEED = 0


def build_classifier(architecture: str, num_classes: int = 10) -> nn.Module:
    """A torchvision classification model by name (e.g. ``"resnet18"``), ``weights=None``.

    Nothing is downloaded. An unknown name raises ``ArtifactError`` (it comes from
    ``metadata.json``).
    """
    import torchvision

    try:
        return torchvision.models.get_model(architecture, weights=None, num_classes=num_classes)
    except (ValueError, KeyError) as exc:
        raise ArtifactError(f"unknown architecture {architecture!r}: {exc}") from exc


def drift_encoder(
    encoding_dim: int = DRIFT_ENCODING_DIM, seed: int = DRIFT_ENCODER_SEED
) -> nn.Module:
    """An untrained, seeded conv encoder (3x32x32 -> ``encoding_dim``), alibi-detect's UAE.

    The global torch RNG is left untouched.
    """
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv2d(3, 16, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, encoding_dim),
        )
