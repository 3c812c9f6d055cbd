"""model.images: each accepted encoding gives training's tensor; bad input is refused."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from model.errors import InvalidInput, PayloadTooLarge
from model.images import decode_image, normalise, prepare_array, prepare_bytes, to_nchw
from model.training.data import load_images, to_unit

MEAN = (0.3, 0.3, 0.3)
STD = (0.32, 0.32, 0.32)
LIMITS = {"mean": MEAN, "std": STD, "size": 32, "max_batch_size": 8, "max_pixels": 1 << 20}


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """Four canonical uint8 (32, 32) digit images, as the graph serves them."""
    return load_images()[0][:4]


def png(array: np.ndarray, mode: str | None = None, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format=fmt, **kw)
    return buf.getvalue()


def training_tensor(images: np.ndarray) -> np.ndarray:
    """What training feeds the model for uint8 (N, H, W) images."""
    return normalise(to_unit(images), MEAN, STD, 32)


def rgb(img: np.ndarray) -> np.ndarray:
    return np.repeat(img[..., None], 3, axis=-1)


ENCODINGS: dict[str, Callable[[np.ndarray], bytes | np.ndarray]] = {
    "png-gray": lambda img: png(img),
    "png-rgb": lambda img: png(rgb(img)),
    "png-rgba": lambda img: png(np.dstack([rgb(img), np.full_like(img, 77)])),
    "png-16bit-gray": lambda img: png(img.astype(np.uint16) * 257, mode="I;16"),
    "png-palette": lambda img: _to_bytes(Image.fromarray(img).convert("P")),
    "uint8-HxW": lambda img: img,
    "int64-HxW": lambda img: img.astype(np.int64),
    "uint8-HxWx1": lambda img: img[..., None],
    "uint8-HxWx3": rgb,
    "uint8-HxWx4": lambda img: np.dstack([rgb(img), np.zeros_like(img)]),
    "uint8-1xHxW": lambda img: img[None],
    "uint8-3xHxW": lambda img: rgb(img).transpose(2, 0, 1),
    "float32-NCHW": lambda img: to_unit(img[None]),
    "float64-NHWC-rgb": lambda img: rgb(to_unit(img[None])[:, 0]).astype(np.float64),
    "float32-Nx1xHxW-3ch": lambda img: np.repeat(to_unit(img[None]), 3, axis=1),
}


def _to_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def transform(payload: bytes | np.ndarray, **overrides: object) -> np.ndarray:
    limits = {**LIMITS, **overrides}
    if isinstance(payload, bytes):
        return prepare_bytes(payload, **limits)  # type: ignore[arg-type]
    return prepare_array(payload, **limits)  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_accepted_encoding_gives_trainings_tensor_exactly(
    encoding: str, digits: np.ndarray
) -> None:
    img = digits[0]
    out = transform(ENCODINGS[encoding](img))
    assert out.dtype == np.float32 and out.shape == (1, 3, 32, 32)
    np.testing.assert_array_equal(out, training_tensor(img[None]))


def test_jpeg_decodes_close_to_the_original(digits: np.ndarray) -> None:
    out = transform(png(digits[1], fmt="JPEG", quality=100))
    expected = training_tensor(digits[1][None])
    assert out.shape == (1, 3, 32, 32)
    # JPEG is lossy: within a few grey levels of the original (in normalised units).
    assert np.abs(out - expected).mean() < 3 / 255 / STD[0]


@pytest.mark.parametrize("layout", ["NHWC", "NCHW", "NHWC-rgb", "NCHW-rgb"])
def test_batches_keep_order_in_both_layouts(layout: str, digits: np.ndarray) -> None:
    batch = {
        "NHWC": digits[..., None],
        "NCHW": digits[:, None],
        "NHWC-rgb": np.repeat(digits[..., None], 3, axis=-1),
        "NCHW-rgb": np.repeat(digits[:, None], 3, axis=1),
    }[layout]
    np.testing.assert_array_equal(transform(batch), training_tensor(digits))


def test_any_image_size_is_resized_like_training(digits: np.ndarray) -> None:
    big = np.asarray(Image.fromarray(digits[2]).resize((48, 64)))  # 64 high, 48 wide
    expected = normalise(to_unit(big[None]), MEAN, STD, 32)
    np.testing.assert_array_equal(transform(png(big)), expected)
    np.testing.assert_array_equal(transform(big), expected)
    assert expected.shape == (1, 3, 32, 32)


def test_real_rgb_colours_reach_the_three_channels() -> None:
    img = np.zeros((32, 32, 3), np.uint8)
    img[..., 0] = 255  # pure red
    out = transform(img)
    low, high = (0 - MEAN[0]) / STD[0], (1 - MEAN[0]) / STD[0]
    np.testing.assert_allclose(out[0, :, 0, 0], [high, low, low], rtol=1e-6)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((5, 7), (1, 1, 5, 7)),
        ((5, 7, 1), (1, 1, 5, 7)),
        ((5, 7, 4), (1, 3, 5, 7)),  # alpha dropped
        ((3, 5, 7), (1, 3, 5, 7)),
        ((4, 5, 3), (1, 3, 4, 5)),  # tie: channels-last wins
        ((2, 5, 7, 3), (2, 3, 5, 7)),
        ((2, 1, 5, 7), (2, 1, 5, 7)),
        ((2, 3, 5, 3), (2, 3, 3, 5)),  # tie: channels-last wins
        ((2, 4, 5, 7), (2, 3, 5, 7)),  # NCHW RGBA, alpha dropped
    ],
)
def test_layout_rule(shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    assert to_nchw(np.zeros(shape, np.uint8)).shape == expected


def test_layout_keeps_pixels_in_place() -> None:
    hwc = np.arange(2 * 5 * 3, dtype=np.uint8).reshape(2, 5, 3)
    np.testing.assert_array_equal(to_nchw(hwc)[0], hwc.transpose(2, 0, 1))


def _bad_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height and whose data is a few bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 8))


@pytest.mark.parametrize(
    ("payload", "error", "phrase"),
    [
        (b"not an image at all", InvalidInput, "not a PNG or JPEG"),
        (b"", InvalidInput, "empty"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", InvalidInput, "not a PNG or JPEG"),
        (_bad_png(8, 8), InvalidInput, "cannot decode"),
        (_bad_png(5_000, 5_000), PayloadTooLarge, "max_pixels=1048576"),
        (np.zeros(10, np.uint8), InvalidInput, "rank 1"),
        (np.zeros((1, 1, 4, 4, 1), np.uint8), InvalidInput, "rank 5"),
        (np.zeros((0, 32), np.uint8), InvalidInput, "zero-size"),
        (np.zeros((2, 0, 32, 1), np.uint8), InvalidInput, "zero-size"),
        (np.zeros((5, 32, 32), np.uint8), InvalidInput, "cannot tell the channels"),
        (np.zeros((2, 5, 32, 32), np.uint8), InvalidInput, "cannot tell the channels"),
        (np.full((4, 4), np.nan, np.float32), InvalidInput, "NaN"),
        (np.full((4, 4), np.inf), InvalidInput, "infinite"),
        (np.full((4, 4), 256, np.int64), InvalidInput, "0..255"),
        (np.full((4, 4), -1, np.int16), InvalidInput, "0..255"),
        (np.full((4, 4), 255.0), InvalidInput, "[0, 1]"),
        (np.full((4, 4), -0.5, np.float32), InvalidInput, "[0, 1]"),
        (np.zeros((4, 4), bool), InvalidInput, "dtype bool"),
        (np.zeros((4, 4), np.complex64), InvalidInput, "dtype complex64"),
        (np.zeros((1025, 1024), np.uint8), PayloadTooLarge, "max_pixels=1048576"),
        (np.zeros((9, 4, 4, 1), np.uint8), PayloadTooLarge, "max_batch_size=8"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, bytes | np.ndarray) else None,
)
def test_bad_input_is_refused_naming_the_problem(
    payload: bytes | np.ndarray, error: type[Exception], phrase: str
) -> None:
    with pytest.raises(error) as caught:
        transform(payload)
    assert type(caught.value) is error
    assert phrase in str(caught.value)


def test_pixel_limit_is_checked_from_the_header_before_decoding() -> None:
    # Header says 5000x5000; the data would fail to decode. Too large wins: no decode.
    with pytest.raises(PayloadTooLarge, match="5000x5000"):
        decode_image(_bad_png(5_000, 5_000), max_pixels=1 << 20)


def test_decompression_bomb_guard_stays_on_with_a_huge_limit() -> None:
    with pytest.raises(PayloadTooLarge, match="decompression bomb"):
        decode_image(_bad_png(100_000, 100_000), max_pixels=10**12)


def test_truncated_png_is_invalid_input(digits: np.ndarray) -> None:
    data = png(digits[0])
    with pytest.raises(InvalidInput, match="cannot decode"):
        decode_image(data[: len(data) // 2], max_pixels=1 << 20)


@pytest.mark.parametrize(
    "shape", [(8, 8), (28, 28), (64, 48), (100, 7), (1, 1), (5, 200), (33, 31), (513, 257)]
)
@pytest.mark.parametrize("channels", [1, 3])
def test_resize_matches_torchs_antialiased_bilinear(shape: tuple[int, int], channels: int) -> None:
    """The NumPy resize gives what ``F.interpolate(bilinear, antialias=True)`` gives,
    growing and shrinking, square or not, so serving matches the weights' training."""
    import torch
    import torch.nn.functional as F

    x = np.random.default_rng(sum(shape)).random((2, channels, *shape), dtype=np.float32)
    mean, std = [0.3, 0.4, 0.5], [0.2, 0.25, 0.3]
    t = F.interpolate(torch.from_numpy(x), size=(32, 32), mode="bilinear",
                      align_corners=False, antialias=True).expand(-1, 3, -1, -1)  # fmt: skip
    expected = (t - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    got = normalise(x, mean, std, 32)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)


def test_a_very_long_image_resizes_without_a_huge_weight_matrix() -> None:
    x = np.linspace(0.0, 1.0, 4_000_000, dtype=np.float32).reshape(1, 1, 1, -1)
    got = normalise(x, [0.0] * 3, [1.0] * 3, 32)
    assert got.shape == (1, 3, 32, 32)
    centres = (np.arange(32) + 0.5) / 32  # a linear ramp stays one (the ends renormalise)
    np.testing.assert_allclose(got[0, 0, 0, 1:-1], centres[1:-1], atol=1e-4)


def test_transforming_an_image_never_imports_torch(digits: np.ndarray) -> None:
    """The transformer's processes stay free of torch (hundreds of MB each)."""
    code = (
        "import sys, numpy as np\n"
        "from model.images import prepare_array\n"
        "prepare_array(np.zeros((2, 28, 28, 1), np.uint8), mean=[0.3] * 3, std=[0.3] * 3,"
        " size=32, max_batch_size=8, max_pixels=10**6)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
