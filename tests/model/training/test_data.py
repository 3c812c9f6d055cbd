"""model.training.data: canonical digit images, a deterministic stratified split, a real shift."""

from __future__ import annotations

import numpy as np
import pytest

from model.training.data import (
    CLASSES,
    Split,
    channel_stats,
    load_images,
    load_split,
    shift_images,
    to_unit,
    upscale,
)


@pytest.fixture(scope="module")
def split() -> Split:
    return load_split()


def test_images_are_uint8_32x32_scaled_from_0_16() -> None:
    from sklearn.datasets import load_digits

    images, labels = load_images()
    assert images.shape == (1797, 32, 32) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and set(labels.tolist()) == set(range(10))
    assert images.max() == 255 and images.min() == 0
    raw = load_digits().images[0]
    # Averaging each 4x4 block of the upscale gives back (roughly) the 8x8 source scaled.
    blocks = images[0].reshape(8, 4, 8, 4).astype(float).mean(axis=(1, 3))
    assert np.corrcoef(blocks.ravel(), raw.ravel())[0, 1] > 0.95


def test_upscale_of_a_constant_image_is_constant() -> None:
    out = upscale(np.full((2, 8, 8), 200, dtype=np.uint8))
    assert out.shape == (2, 32, 32) and (out == 200).all()


def test_split_is_deterministic_stratified_80_20(split: Split) -> None:
    again = load_split()
    assert np.array_equal(split.heldout_images, again.heldout_images)
    assert np.array_equal(split.train_labels, again.train_labels)
    assert len(split.heldout_labels) == 360 and len(split.train_labels) == 1437
    share = np.bincount(split.heldout_labels, minlength=10) / 360
    assert np.allclose(share, 0.1, atol=0.01)
    other = load_split(seed=7)
    assert not np.array_equal(split.heldout_images, other.heldout_images)


def test_train_and_heldout_do_not_overlap(split: Split) -> None:
    train = {img.tobytes() for img in split.train_images}
    duplicates = sum(img.tobytes() in train for img in split.heldout_images)
    assert duplicates <= 2  # the digits set itself holds a few identical images


def test_to_unit_and_channel_stats(split: Split) -> None:
    x = to_unit(split.train_images)
    assert x.shape == (1437, 1, 32, 32) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    mean, std = channel_stats(split.train_images)
    assert len(mean) == len(std) == 3 and mean[0] == mean[2]
    assert mean[0] == pytest.approx(float(x.mean()), abs=1e-6)
    assert std[0] == pytest.approx(float(x.std()), abs=1e-5)
    assert tuple("0123456789") == CLASSES


def test_shift_is_deterministic_per_seed(split: Split) -> None:
    a = shift_images(split.heldout_images[:50], seed=3)
    b = shift_images(split.heldout_images[:50], seed=3)
    c = shift_images(split.heldout_images[:50], seed=4)
    assert a.dtype == np.uint8 and a.shape == (50, 32, 32)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_shift_changes_pixel_statistics(split: Split) -> None:
    clean = split.heldout_images
    shifted = shift_images(clean, seed=0)
    # Noise roughens the smooth upscaled digits and rotation moves the strokes.
    assert roughness(shifted) > 2 * roughness(clean)
    assert np.abs(shifted.astype(int) - clean.astype(int)).mean() > 30
    clean_profile = clean.astype(float).mean(axis=(0, 1))
    shifted_profile = shifted.astype(float).mean(axis=(0, 1))
    assert np.abs(clean_profile - shifted_profile).max() > 20


def roughness(images: np.ndarray) -> float:
    """Mean absolute difference between horizontal neighbours."""
    x = images.astype(float)
    return float(np.abs(x[:, :, 1:] - x[:, :, :-1]).mean())


def test_shift_rotates_rather_than_only_noising() -> None:
    bar = np.zeros((1, 32, 32), dtype=np.uint8)
    bar[0, 4:28, 15:17] = 255  # a vertical stroke
    out = shift_images(bar, seed=1, noise_std=0.0)[0]
    assert out[4:28, 15:17].mean() < 200  # no longer where it was
    assert out.sum() > 0.7 * bar.sum()  # but still in the image
