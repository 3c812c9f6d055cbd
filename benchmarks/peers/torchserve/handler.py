"""``DigitsHandler``: the TorchServe custom handler of the ``torchserve`` scenario.

Packed into ``digits.mar`` by ``torch-model-archiver`` and run by TorchServe's Python
worker in the ``torchserve`` peer venv (``PYTHONPATH`` holds the repository, so
``benchmarks.peers.digits`` imports). TorchServe's frontend batches: ``handle`` gets up
to ``batchSize`` requests, each a V2 JSON body with one FP32 (n, 3, 32, 32) tensor; they
are merged into one forward pass and answered one V2 JSON reply each. The weights folder
comes from the model's YAML config (``handler.model_uri``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.peers.digits import Digits, DigitsError, split_rows, v2_input, v2_output


class DigitsHandler:
    """TorchServe's handler protocol: ``initialize(context)`` then ``handle(data, context)``."""

    def __init__(self) -> None:
        self.digits: Digits | None = None

    def initialize(self, context: Any) -> None:
        config = (getattr(context, "model_yaml_config", None) or {}).get("handler") or {}
        if "model_uri" not in config:
            raise DigitsError("the model config must set handler.model_uri")
        self.digits = Digits.load(config["model_uri"])

    def handle(self, data: list[dict[str, Any]], context: Any) -> list[Any]:
        if self.digits is None:
            raise DigitsError("handle() before initialize()")
        inputs: list[np.ndarray | None] = []
        for index, item in enumerate(data):
            try:
                body: Any = item.get("body")
                body = item["data"] if body is None else body
                inputs.append(self.digits.check(v2_input(body)))
            except (DigitsError, ValueError, KeyError, TypeError) as exc:
                context.set_response_status(400, str(exc), idx=index)
                inputs.append(None)
        good = [x for x in inputs if x is not None]
        outputs = iter(
            split_rows(self.digits.run(np.concatenate(good)), [len(x) for x in good])
            if good
            else []
        )
        return [{"error": "bad request"} if x is None else v2_output(next(outputs)) for x in inputs]
