"""The ``pytriton`` scenario's server: the classifier bound to Triton by NVIDIA PyTriton.

Runs inside the ``pytriton`` peer venv: ``python -m benchmarks.peers.pytriton.runtime
--model-uri DIR --http-port N --grpc-port N --metrics-port N --max-batch-size N
--max-queue-delay-us N``. PyTriton starts the Triton server it bundles; Triton's dynamic
batcher merges requests (up to the batch size or the delay) and calls ``infer`` once per
batch in this process. Triton serves the KServe V2 protocol over REST
(``/v2/models/digits/infer``) and gRPC (``inference.GRPCInferenceService``).
"""

from __future__ import annotations

import argparse

import numpy as np


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers.pytriton.runtime")
    parser.add_argument("--model-uri", required=True)
    for name in ("--http-port", "--grpc-port", "--metrics-port", "--max-batch-size",
                 "--max-queue-delay-us"):  # fmt: skip
        parser.add_argument(name, type=int, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from pytriton.decorators import batch
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig

    from benchmarks.peers.digits import Digits

    args = parse_args(argv)
    digits = Digits.load(args.model_uri)

    @batch
    def infer(input: np.ndarray) -> dict[str, np.ndarray]:  # named for the tensor
        return {"probabilities": digits.run(input)}

    config = TritonConfig(
        http_address="127.0.0.1", http_port=args.http_port,
        grpc_address="127.0.0.1", grpc_port=args.grpc_port,
        metrics_address="127.0.0.1", metrics_port=args.metrics_port,
    )  # fmt: skip
    with Triton(config=config) as triton:
        triton.bind(
            model_name="digits",
            infer_func=infer,
            inputs=[Tensor(name="input", dtype=np.float32, shape=digits.input_size)],
            outputs=[Tensor(name="probabilities", dtype=np.float32, shape=(-1,))],
            config=ModelConfig(
                max_batch_size=args.max_batch_size,
                batcher=DynamicBatcher(max_queue_delay_microseconds=args.max_queue_delay_us),
            ),
        )
        triton.serve()


if __name__ == "__main__":
    main()
