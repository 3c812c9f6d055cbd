"""``ImageTransformer``: the graph's Seldon TRANSFORMER, images in, model inputs out.

Run it with ``seldon-core-microservice model.transformer.ImageTransformer --service-type
TRANSFORMER`` and the parameter ``model_uri`` (the artifact directory holding
``metadata.json``). ``transform_input_raw`` accepts PNG/JPEG bytes (``binData``) or image
arrays (``data.ndarray``, ``data.tensor``, ``data.tftensor``) under the rules in
``model.images``, and replies with float32 NCHW model inputs: ``data.tensor`` over REST,
``data.tftensor`` (float32 ``tensor_content``) over gRPC, never ``ndarray``. The request's
``meta`` (``puid``, ``tags``, ``requestPath``) is carried over as Seldon does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from seldon_core.proto import prediction_pb2

from model import seldon
from model.artifacts import ModelMetadata, artifact_dir, load_metadata
from model.errors import ArtifactError, Unavailable
from model.images import EIGHT_BIT, prepare_array, prepare_bytes
from model.seldon.message import MessageData, read_message, reply
from model.settings import TransformerSettings, build_settings

logger = logging.getLogger(__name__)


def image_transform(
    payload: MessageData,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    size: int,
    max_batch_size: int,
    max_pixels: int,
    pixel_scale: float = EIGHT_BIT,
) -> np.ndarray:
    """Image bytes or an image array -> float32 ``(N, 3, size, size)`` model inputs.

    Integer arrays are pixel values 0..``pixel_scale`` (the model's); decoded images are
    8-bit. Raises ``InvalidInput`` (400) or ``PayloadTooLarge`` (413) naming the problem.
    """
    limits: dict[str, Any] = {
        "mean": mean,
        "std": std,
        "size": size,
        "max_batch_size": max_batch_size,
        "max_pixels": max_pixels,
    }
    if isinstance(payload, bytes | bytearray | memoryview):
        return prepare_bytes(bytes(payload), **limits)
    return prepare_array(payload, **limits, pixel_scale=pixel_scale)


class ImageTransformer:
    """Seldon TRANSFORMER component: decodes, lays out and normalises images.

    Parameters (graph node ``parameters``): see ``model.settings.TransformerSettings``.
    """

    def __init__(self, **parameters: Any) -> None:
        self.model_error_handler = seldon.install()  # adapt the wrapper (model.seldon)
        self.settings = build_settings(TransformerSettings, "ImageTransformer", parameters)
        self.metadata: ModelMetadata | None = None

    def load(self) -> None:
        """Read and check ``metadata.json`` from ``model_uri`` (no model weights needed)."""
        metadata = load_metadata(artifact_dir(self.settings.model_uri))
        if metadata.input_size[0] != 3:
            raise ArtifactError(
                f"{self.settings.model_uri}: input_size {list(metadata.input_size)} must "
                "have 3 channels"
            )
        self.metadata = metadata
        logger.info(
            "ImageTransformer loaded %s (version %s, input %s)",
            self.settings.model_uri,
            metadata.version,
            list(metadata.input_size),
        )

    def health_status(self) -> dict[str, Any]:
        """Ready once ``load()`` has read the metadata; ``Unavailable`` (503) before."""
        metadata = self._loaded()
        return {"status": "ok", "version": metadata.version}

    def transform_input_raw(
        self, request: Mapping[str, Any] | prediction_pb2.SeldonMessage
    ) -> dict[str, Any] | prediction_pb2.SeldonMessage:
        """A whole Seldon message in (REST dict or gRPC proto), the same kind out."""
        metadata = self._loaded()
        payload = read_message(request, max_values=self.settings.max_pixels, limit="max_pixels")
        inputs = image_transform(
            payload,
            mean=metadata.mean,
            std=metadata.std,
            size=metadata.image_size,
            max_batch_size=self.settings.max_batch_size,
            max_pixels=self.settings.max_pixels,
            pixel_scale=metadata.pixel_scale,
        )
        return reply(request, inputs)

    def _loaded(self) -> ModelMetadata:
        if self.metadata is None:
            raise Unavailable("ImageTransformer is not loaded yet (metadata.json not read)")
        return self.metadata
