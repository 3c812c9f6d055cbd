"""Plain image functions shared by training and the transformer (no Seldon here).

Input rules (the README quotes them):

- **Bytes** are a PNG or JPEG image (one image; other formats are refused). Grayscale
  (and 1-bit) images stay one channel, palette/RGB/RGBA/CMYK images become RGB (alpha
  dropped); 16-bit grayscale PNGs are read as intensities ``value / 65535``.
- **Arrays** have one of these layouts, decided from the shape alone, with C in {1, 3, 4}:

  - 2-D: ``H x W`` (one grayscale image);
  - 3-D: ``H x W x C`` if the last dimension is 1, 3 or 4, else ``C x H x W`` if the first
    is, else refused (send a batch of grayscale images as ``N x H x W x 1``);
  - 4-D: ``N x H x W x C`` if the last dimension is 1, 3 or 4, else ``N x C x H x W`` if
    the second is, else refused.

  The last dimension wins a tie (channels-last first, in 3-D and 4-D alike), so
  ``(N, 3, 32, 3)`` is read as NHWC. C = 1 is grayscale (repeated to the model's three
  channels), 3 is RGB, 4 is RGBA (alpha dropped). Any other rank is refused.
- **Values**: integer arrays are pixel values 0..``pixel_scale`` (the model's
  ``metadata.json``; 255 for the default models); float arrays are intensities in
  [0, 1]; other dtypes (bool, complex), values out of range, NaN and infinities are refused.
  Over gRPC, ``data.tensor`` and ``data.ndarray`` carry doubles, so they are intensities;
  send pixel values as JSON integers or as a ``tftensor`` of an integer dtype.
- **Limits**: at most ``max_batch_size`` images and ``max_pixels`` pixel values
  (N x H x W x C as sent; for bytes width x height x channels, read from the image
  header before anything is decompressed). Over a limit is ``PayloadTooLarge`` (413).
- **Output**: ``x / 255`` for integers, then ``normalise`` (bilinear resize with
  antialiasing to the model's size, grayscale repeated to 3 channels, ``(x - mean) / std``):
  float32 ``(N, 3, size, size)``, exactly as training prepares its inputs.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence

import numpy as np

from model.errors import InvalidInput, PayloadTooLarge, SeldonGraphError

CHANNELS = (1, 3, 4)
FORMATS = ("PNG", "JPEG")
EIGHT_BIT = 255.0  # the pixel scale of decoded 8-bit images
_GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")


def normalise(
    batch: np.ndarray, mean: Sequence[float], std: Sequence[float], size: int
) -> np.ndarray:
    """Float NCHW in [0, 1] (C = 1 or 3, any H x W) -> float32 (N, 3, size, size), normalised.

    Resizes bilinearly (with antialiasing when shrinking) to ``size`` x ``size``, repeats a
    single channel to three, then applies ``(x - mean) / std`` per channel. NumPy only: the
    transformer never imports torch (torch adds ~480 MB RSS to each process that serves).
    """
    x = np.ascontiguousarray(batch, dtype=np.float32)
    if x.shape[-2:] != (size, size):  # the longer axis first: the intermediate stays small
        first, second = (_resize_last_axis, _resize_height)
        if x.shape[-2] > x.shape[-1]:
            first, second = second, first
        x = second(first(x, size), size)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    m = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
    return np.ascontiguousarray((x - m) / s, dtype=np.float32)


DENSE_RESIZE_LIMIT = 1 << 20  # most weights of a resize done as one matrix product


def _resize_height(x: np.ndarray, out_size: int) -> np.ndarray:
    return np.swapaxes(_resize_last_axis(np.swapaxes(x, -1, -2), out_size), -1, -2)


def _resize_last_axis(x: np.ndarray, out_size: int) -> np.ndarray:
    """Resample the last axis of ``x`` to ``out_size`` (see ``_resize_taps``).

    One matrix product for ordinary images; tap by tap when a dense weight matrix would
    be large (a 1 x 16M-pixel image would need 2 GB of weights).
    """
    in_size = x.shape[-1]
    if in_size == out_size:
        return x
    taps = _resize_taps(in_size, out_size)
    if in_size * out_size <= DENSE_RESIZE_LIMIT:
        dense = np.zeros((in_size, out_size), dtype=np.float32)
        for i, (lo, weights) in enumerate(taps):
            dense[lo : lo + len(weights), i] = weights
        return np.matmul(x, dense)
    return np.stack([x[..., lo : lo + len(w)] @ w for lo, w in taps], axis=-1)


@functools.lru_cache(maxsize=64)
def _resize_taps(in_size: int, out_size: int) -> tuple[tuple[int, np.ndarray], ...]:
    """(first input index, float32 weights) of each output pixel along one axis.

    The rule of ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
    antialias=True)`` (a triangle filter widened by the scale when shrinking, each output
    pixel's taps renormalised; the same as PIL's BILINEAR), so models trained through it
    see the same inputs. tests/model/test_images.py compares the two.
    """
    scale = in_size / out_size
    support = scale if scale >= 1.0 else 1.0
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    taps = []
    for i in range(out_size):
        center = scale * (i + 0.5)
        lo = max(math.trunc(center - support + 0.5), 0)
        hi = min(math.trunc(center + support + 0.5), in_size)
        w = np.maximum(0.0, 1.0 - np.abs((np.arange(lo, hi) - center + 0.5) * invscale))
        taps.append((lo, (w / w.sum()).astype(np.float32)))
    return tuple(taps)


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """PNG/JPEG bytes -> uint8 ``H x W`` or ``H x W x 3`` (float32 in [0, 1] for 16-bit gray).

    The size is read from the header and checked against ``max_pixels`` before the pixels
    are decompressed; Pillow's decompression-bomb guard stays on as a second line.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InvalidInput("binData is empty; send PNG or JPEG bytes")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            width, height = img.size
            gray = img.mode in _GRAY_MODES
            channels = max(len(img.getbands()), 1 if gray else 3)
            if width * height * channels > max_pixels:
                raise PayloadTooLarge(
                    f"image of {width}x{height}x{channels} = {width * height * channels} "
                    f"pixel values is over max_pixels={max_pixels}"
                )
            if width == 0 or height == 0:
                raise InvalidInput(f"image has a zero-size dimension ({width}x{height})")
            img.load()
            if img.mode.startswith("I"):
                return np.asarray(img, dtype=np.float32) / np.float32(65535.0)
            return np.asarray(img.convert("L" if gray else "RGB"))
    except SeldonGraphError:
        raise
    except Image.DecompressionBombError as exc:
        raise PayloadTooLarge(f"image refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise InvalidInput("binData is not a PNG or JPEG image") from None
    except Exception as exc:  # any decoder failure on untrusted bytes is bad input
        raise InvalidInput(f"cannot decode the image bytes: {type(exc).__name__}: {exc}") from None


def check_array(array: np.ndarray, max_batch_size: int, max_pixels: int) -> None:
    """Refuse zero-size dimensions, too many pixel values, and a batch over the limit."""
    if array.ndim not in (2, 3, 4):
        raise InvalidInput(
            f"image array of rank {array.ndim} (shape {list(array.shape)}) is not accepted; "
            "expected HxW, HxWxC, CxHxW, NxHxWxC or NxCxHxW"
        )
    if 0 in array.shape:
        raise InvalidInput(f"image array shape {list(array.shape)} has a zero-size dimension")
    if array.size > max_pixels:
        raise PayloadTooLarge(
            f"image array shape {list(array.shape)} holds {array.size} pixel values, "
            f"over max_pixels={max_pixels}"
        )
    if array.ndim == 4 and array.shape[0] > max_batch_size:
        raise PayloadTooLarge(
            f"batch of {array.shape[0]} images is over max_batch_size={max_batch_size}"
        )


def to_nchw(array: np.ndarray) -> np.ndarray:
    """Apply the layout rule (module docstring): a view ``(N, C, H, W)``, C in {1, 3}."""
    shape = list(array.shape)
    if array.ndim == 2:
        x = array[None, None]
    elif array.ndim == 3 and shape[2] in CHANNELS:
        x = array.transpose(2, 0, 1)[None]
    elif array.ndim == 3 and shape[0] in CHANNELS:
        x = array[None]
    elif array.ndim == 4 and shape[3] in CHANNELS:
        x = array.transpose(0, 3, 1, 2)
    elif array.ndim == 4 and shape[1] in CHANNELS:
        x = array
    elif array.ndim in (3, 4):
        layouts = "HxWxC or CxHxW" if array.ndim == 3 else "NxHxWxC or NxCxHxW"
        raise InvalidInput(
            f"cannot tell the channels of shape {shape}: expected {layouts} with C in 1, 3 "
            "or 4 (send a batch of grayscale images as NxHxWx1)"
        )
    else:
        raise InvalidInput(f"image array of rank {array.ndim} is not accepted")
    return x[:, :3] if x.shape[1] == 4 else x


def to_unit(array: np.ndarray, pixel_scale: float = EIGHT_BIT) -> np.ndarray:
    """Integers 0..pixel_scale -> ``x / pixel_scale``; floats in [0, 1] kept; float32.

    ``pixel_scale`` is the model's (``metadata.json``); decoded 8-bit images use 255.
    Integer division is done as training does it (``model.training.data.to_unit``).
    """
    kind = array.dtype.kind
    if kind in "iu":
        lo, hi = int(array.min()), int(array.max())
        if lo < 0 or hi > pixel_scale:
            raise InvalidInput(
                f"integer arrays are pixel values in 0..{pixel_scale:g}, got values in {lo}..{hi}"
            )
        return array.astype(np.float32) / np.float32(pixel_scale)
    if kind == "f":
        flo, fhi = float(array.min()), float(array.max())
        if not (math.isfinite(flo) and math.isfinite(fhi)):
            raise InvalidInput("image array holds NaN or infinite values")
        if flo < 0.0 or fhi > 1.0:
            raise InvalidInput(
                f"float arrays are intensities in [0, 1], got values in [{flo:g}, {fhi:g}]; "
                "send pixel values 0..255 as integers (or a tftensor of an integer dtype)"
            )
        return array.astype(np.float32)
    raise InvalidInput(f"image arrays must be integers or floats, got dtype {array.dtype}")


def prepare_array(
    array: np.ndarray,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    size: int,
    max_batch_size: int,
    max_pixels: int,
    pixel_scale: float = EIGHT_BIT,
) -> np.ndarray:
    """An image array (any accepted layout and dtype) -> float32 ``(N, 3, size, size)``."""
    check_array(array, max_batch_size, max_pixels)
    nchw = to_nchw(array)
    return normalise(to_unit(nchw, pixel_scale), mean, std, size)


def prepare_bytes(
    data: bytes,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    size: int,
    max_batch_size: int,
    max_pixels: int,
) -> np.ndarray:
    """PNG/JPEG bytes -> float32 ``(1, 3, size, size)``."""
    image = decode_image(data, max_pixels)
    return prepare_array(
        image,
        mean=mean,
        std=std,
        size=size,
        max_batch_size=max_batch_size,
        max_pixels=max_pixels,
        pixel_scale=EIGHT_BIT,
    )
