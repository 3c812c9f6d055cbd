"""The digits data set as canonical 32x32 uint8 images, the fixed split and the drift shift.

scikit-learn's bundled ``digits`` (8x8, values 0..16) are scaled to 0..255 and upscaled
bilinearly to 32x32: that uint8 grayscale array is the canonical "image" served to the
graph. Model inputs come from ``model.images.normalise(image / 255.0, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 32
PIXEL_SCALE = 255.0  # uint8 pixel values; written to metadata.json as pixel_scale
SPLIT_SEED = 0
HELDOUT_FRACTION = 0.2
CLASSES = tuple(str(i) for i in range(10))


@dataclass(frozen=True)
class Split:
    """The stratified train / held-out split: uint8 images (N, 32, 32) and int64 labels."""

    train_images: np.ndarray
    train_labels: np.ndarray
    heldout_images: np.ndarray
    heldout_labels: np.ndarray


def upscale(images8: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """uint8 (N, h, w) -> uint8 (N, size, size), bilinear, rounded."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(images8.astype(np.float32))[:, None]
    y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return np.clip(np.rint(y[:, 0].numpy()), 0, 255).astype(np.uint8)


def load_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits as canonical uint8 (N, 32, 32) images and int64 labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images8 = np.clip(np.rint(digits.images * 255.0 / 16.0), 0, 255).astype(np.uint8)
    return upscale(images8), digits.target.astype(np.int64)


def load_split(seed: int = SPLIT_SEED, heldout_fraction: float = HELDOUT_FRACTION) -> Split:
    """The deterministic stratified split (80/20 by default) of ``load_images()``."""
    from sklearn.model_selection import train_test_split

    images, labels = load_images()
    x_tr, x_ho, y_tr, y_ho = train_test_split(
        images, labels, test_size=heldout_fraction, stratify=labels, random_state=seed
    )
    return Split(x_tr, y_tr, x_ho, y_ho)


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> float32 (N, 1, H, W) in [0, 1] (the input of ``normalise``)."""
    return (images.astype(np.float32) / PIXEL_SCALE)[:, None]


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Mean and std of uint8 images in [0, 1] units, one value repeated for 3 channels."""
    x = images.astype(np.float64) / PIXEL_SCALE
    mean, std = float(x.mean()), float(x.std())
    return [mean] * 3, [std] * 3


def shift_images(
    images: np.ndarray,
    seed: int,
    min_angle: float = 30.0,
    max_angle: float = 45.0,
    noise_std: float = 40.0,
) -> np.ndarray:
    """A real covariate shift: rotate each uint8 image by +-[30, 45] degrees, add noise.

    Deterministic for a given ``seed``; returns uint8 of the same shape.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    n = len(images)
    angles = rng.uniform(min_angle, max_angle, n) * rng.choice([-1.0, 1.0], n)
    noise = rng.normal(0.0, noise_std, images.shape)
    out = np.empty(images.shape, dtype=np.float64)
    for i, (img, angle) in enumerate(zip(images, angles, strict=True)):
        rotated = Image.fromarray(np.asarray(img, dtype=np.uint8), mode="L").rotate(
            float(angle), resample=Image.BILINEAR, fillcolor=0
        )
        out[i] = np.asarray(rotated, dtype=np.float64)
    return np.clip(np.rint(out + noise), 0, 255).astype(np.uint8)
