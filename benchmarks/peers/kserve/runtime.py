"""The ``kserve`` scenario's server: the classifier as a ``kserve.Model`` in KServe's server.

Runs inside the ``kserve`` peer venv: ``python -m benchmarks.peers.kserve.runtime
--model-uri DIR --http-port N --grpc-port N``. KServe's Python server (FastAPI/uvicorn for
REST, grpc.aio for gRPC, both the V2 protocol) has no batcher of its own: in a cluster
KServe batches in its Go agent sidecar, which is not run here. So every request is one
forward pass; ``predict`` runs it off the event loop, so the server keeps reading requests.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

MODEL_NAME = "digits"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers.kserve.runtime")
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    return parser.parse_args(argv)


def make_model(model_uri: str) -> Any:
    """A loaded ``kserve.Model`` named ``digits`` answering V2 requests."""
    from kserve import InferOutput, InferRequest, InferResponse, Model

    from benchmarks.peers.digits import Digits

    class DigitsModel(Model):
        def load(self) -> bool:
            self.digits = Digits.load(model_uri)
            self.ready = True
            return True

        async def predict(
            self, payload: InferRequest, headers: Any = None, response_headers: Any = None
        ) -> InferResponse:
            x = self.digits.check(payload.inputs[0].as_numpy())
            probs = await asyncio.to_thread(self.digits.run, x)
            output = InferOutput(name="probabilities", shape=list(probs.shape), datatype="FP32")
            output.set_data_from_numpy(probs, binary_data=False)
            return InferResponse(
                response_id=payload.id or "", model_name=self.name, infer_outputs=[output]
            )

    model = DigitsModel(MODEL_NAME)
    model.load()
    return model


def main(argv: list[str] | None = None) -> None:
    from kserve import ModelServer

    args = parse_args(argv)
    model = make_model(args.model_uri)
    ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, workers=1).start([model])


if __name__ == "__main__":
    main()
