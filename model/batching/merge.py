"""Pure merge/split of request arrays for dynamic batching (no threads, no torch).

A batch is the requests' arrays concatenated along axis 0. ``offsets`` holds the
boundaries (``offsets[i]:offsets[i + 1]`` are request ``i``'s rows), so every request gets
back exactly its own rows, whatever the other requests' sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from model.errors import InternalError


def offsets_of(sizes: Sequence[int]) -> list[int]:
    """Boundaries ``[0, n0, n0 + n1, ...]`` of requests with ``sizes`` samples each."""
    offsets = [0]
    for size in sizes:
        if size < 0:
            raise ValueError(f"a request cannot have {size} samples")
        offsets.append(offsets[-1] + size)
    return offsets


def merge(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Concatenate request arrays along axis 0; return the batch and its offsets.

    All arrays must have at least one dimension and agree on every axis but the first.
    """
    if not arrays:
        raise ValueError("cannot merge an empty list of requests")
    tail = arrays[0].shape[1:]
    for i, array in enumerate(arrays):
        if array.ndim == 0 or array.shape[1:] != tail:
            raise ValueError(
                f"request {i} has shape {array.shape}; expected (N, {', '.join(map(str, tail))})"
            )
    offsets = offsets_of([len(a) for a in arrays])
    batch = arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)
    return batch, offsets


def split(output: np.ndarray, offsets: Sequence[int]) -> list[np.ndarray]:
    """Cut a batch output back into per-request outputs at ``offsets``.

    Raises ``InternalError`` when the output does not have one row per input sample: a
    reply must never be built from another request's rows.
    """
    total = offsets[-1] if offsets else 0
    rows = len(output) if isinstance(output, np.ndarray) and output.ndim > 0 else None
    if rows != total:
        got = f"{rows} rows" if rows is not None else f"a {type(output).__name__}"
        raise InternalError(f"batch function returned {got} for a batch of {total} samples")
    return [output[start:end] for start, end in pairwise(offsets)]
