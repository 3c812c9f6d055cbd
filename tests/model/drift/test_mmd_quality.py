"""Drift detection quality on the shipped artifacts: detection delay and false-alarm rate.

Uses the real v1 drift encoder and reference with the default parameters (window 64,
p_val 0.05, 100 permutations). The measured numbers are printed (``pytest -s``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from model.artifacts import load_metadata
from model.drift.mmd import WindowTest, build_window_test
from model.images import normalise
from model.settings import DriftSettings, build_settings

pytestmark = pytest.mark.slow

CLEAN_WINDOWS = 60
MAX_DETECTION_WINDOWS = 2


@pytest.fixture(scope="module")
def settings(artifacts_dir: Path) -> DriftSettings:
    params = {"model_uri": str(artifacts_dir / "v1"), "n_permutations": 100}
    return build_settings(DriftSettings, "DriftDetector", params)


@pytest.fixture(scope="module")
def window_test(settings: DriftSettings) -> WindowTest:
    return build_window_test(settings)


def examples(artifacts_dir: Path, name: str) -> np.ndarray:
    """``examples/<name>.npz`` images as normalised model inputs (N, 3, 32, 32)."""
    meta = load_metadata(artifacts_dir / "v1")
    with np.load(artifacts_dir / "examples" / f"{name}.npz", allow_pickle=False) as npz:
        images = npz["images"]
    return normalise(images[:, None] / 255.0, meta.mean, meta.std, meta.input_size[1])


def test_shifted_inputs_are_flagged_within_two_windows(
    artifacts_dir: Path, settings: DriftSettings, window_test: WindowTest
) -> None:
    shifted = examples(artifacts_dir, "shifted")
    w = settings.window_size
    detected_at = None
    for i in range(min(len(shifted) // w, MAX_DETECTION_WINDOWS)):
        result = window_test(shifted[i * w : (i + 1) * w])
        print(f"shifted window {i + 1}: p={result.p_value:.3f} mmd2={result.distance:.4f}")
        if result.is_drift:
            detected_at = i + 1
            break
    print(f"detection delay: {detected_at} window(s) of {w}")
    assert detected_at is not None, f"no drift flagged in {MAX_DETECTION_WINDOWS} shifted windows"


def test_clean_heldout_false_alarm_rate_stays_near_p_val(
    artifacts_dir: Path, settings: DriftSettings, window_test: WindowTest
) -> None:
    clean = examples(artifacts_dir, "heldout")
    rng = np.random.default_rng(1234)
    w = settings.window_size
    alarms, seconds = 0, []
    for _ in range(CLEAN_WINDOWS):
        window = clean[rng.choice(len(clean), size=w, replace=False)]
        start = time.perf_counter()
        alarms += window_test(window).is_drift
        seconds.append(time.perf_counter() - start)
    rate = alarms / CLEAN_WINDOWS
    p = settings.p_val
    bound = 3 * p + 2 * math.sqrt(p * (1 - p) / CLEAN_WINDOWS)
    print(
        f"false alarms: {alarms}/{CLEAN_WINDOWS} = {rate:.3f} (p_val {p}, bound {bound:.3f}); "
        f"window {w}, {settings.n_permutations} permutations, "
        f"median {1000 * float(np.median(seconds)):.1f} ms per window test"
    )
    assert rate <= bound


def test_a_window_test_is_reproducible_from_its_seed(
    artifacts_dir: Path, settings: DriftSettings, window_test: WindowTest
) -> None:
    """Two tests seeded alike give the same permutation p-values, window by window."""
    clean = examples(artifacts_dir, "heldout")
    windows = [clean[i : i + 16] for i in (0, 16, 32)]  # small windows: p-values vary
    runs = []
    for _ in range(2):
        test = WindowTest(
            window_test.detector, window_test.input_shape, 7, window_test.reference_size
        )
        runs.append([test(w).p_value for w in windows])
    print(f"p-values per window: {runs[0]}")
    assert runs[0] == runs[1]
