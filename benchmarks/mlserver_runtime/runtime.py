"""``DigitsRuntime``: the same ResNet-18 weights served by MLServer (V2 protocol).

Runs inside MLServer's own venv (MLServer 1.7, pydantic 2), so of the project it imports
only ``benchmarks.peers.digits`` (torch and torchvision, as every peer's runtime does):
``Digits.load`` checks the weights' sha256, builds the network and warms it up. The
input is one V2 FP32 tensor (N, 3, 32, 32), already normalised; the output is the class
probabilities (N, 10). MLServer's adaptive batching merges concurrent requests along the
first dimension before ``predict``.
"""

from __future__ import annotations

import asyncio

from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse

from benchmarks.peers.digits import Digits, DigitsError


class DigitsRuntime(MLModel):
    """Class probabilities for normalised float32 (N, 3, 32, 32) images."""

    async def load(self) -> bool:
        uri = self.settings.parameters.uri if self.settings.parameters else None
        if not uri:
            raise InferenceError("model-settings.json must set parameters.uri")
        try:
            self._digits = Digits.load(uri)
        except DigitsError as exc:
            raise InferenceError(str(exc)) from exc
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if len(payload.inputs) != 1:
            raise InferenceError("expected one input tensor")
        try:
            x = self._digits.check(NumpyCodec.decode_input(payload.inputs[0]))
        except DigitsError as exc:
            raise InferenceError(str(exc)) from exc
        # Off the event loop, so MLServer keeps reading requests (and batching) meanwhile.
        probs = await asyncio.to_thread(self._digits.run, x)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[NumpyCodec.encode_output("probabilities", probs)],
        )
