"""``TorchPredictor``: the Seldon MODEL component (thin adapter over inference + batching).

Parameters (graph node ``parameters``, see ``model.settings.PredictorSettings``):
``model_uri`` (the artifact directory Seldon mounts at /mnt/models), ``device``,
``batching``, ``max_batch_size`` (samples), ``max_delay_ms``, ``amp``, ``warmup``,
``max_request_size``, ``request_timeout_s``.

Seldon builds the component once, then forks (Gunicorn worker, gRPC worker process) and
calls ``load()`` in each process: weights, CUDA and the batcher's worker thread are created
there. Until ``load()`` has finished (weights verified and loaded, warm-up run)
``health_status`` raises ``Unavailable``, so ``/health/status`` is not 200. A tampered or
missing artifact makes ``load()`` raise ``ArtifactError``: the worker fails to boot and
the server exits instead of serving.

``predict_raw`` reads ``data.tensor`` / ``data.tftensor`` / ``data.ndarray`` (REST or
gRPC) with ``model.seldon.message``, checks it is float (N, C, H, W) of the model's input size
(``inference.check_input``) and replies with class probabilities (``names`` = the class
labels), tag ``model_version`` and per-request metrics ``batch_size`` (GAUGE, samples in
the batch that served it), ``queue_wait_ms`` and ``inference_ms`` (TIMER), ``requests``
(COUNTER). REST replies use ``data.tensor`` (``data.ndarray`` for an ndarray request);
gRPC replies use a float32 ``data.tftensor`` (``data.tensor`` for a tensor request).

With ``batching`` on, concurrent requests of one process share batches
(``model.batching.DynamicBatcher``); off, the same batcher runs each request alone
(``max_batch_size=1``). Either way one thread, the batcher's, loads, warms up and runs the
model: torch's CPU thread pools are fast only when a single thread drives them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from model import seldon
from model.batching import BatchFn, BatchResult, DynamicBatcher
from model.errors import InternalError, SeldonGraphError, Unavailable
from model.inference import InferenceModel, check_input, load_model
from model.seldon import message
from model.seldon.message import Message
from model.settings import PredictorSettings, build_settings

logger = logging.getLogger(__name__)


class TorchPredictor:
    """Seldon MODEL: class probabilities from the verified PyTorch classifier."""

    def __init__(self, **params: Any) -> None:
        self.model_error_handler = seldon.install()  # adapt the wrapper (model.seldon)
        self.settings = build_settings(PredictorSettings, "TorchPredictor", params)
        self._load_lock = threading.Lock()
        self._model: InferenceModel | None = None
        self._runner: DynamicBatcher | None = None

    # ----- lifecycle -----
    def load(self) -> None:
        """Verify and load the weights, warm up, start the batcher (once per process)."""
        with self._load_lock:
            if self._runner is not None:
                return
            s = self.settings
            loaded: list[InferenceModel] = []

            def setup() -> BatchFn:  # runs on the batcher's thread
                model = load_model(s)
                if s.warmup:
                    model.warmup(sorted({1, s.max_batch_size}))
                loaded.append(model)
                return model.run

            runner = DynamicBatcher(
                setup,
                s.max_batch_size if s.batching else 1,
                s.max_delay_ms if s.batching else 0.0,
                timeout_s=s.request_timeout_s,
                name="torch-inference",
            )
            try:
                runner.ready()
            except SeldonGraphError as exc:
                logger.error("TorchPredictor cannot load %s: %s", s.model_uri, exc)
                raise
            model = loaded[0]
            self._model, self._runner = model, runner
            logger.info("TorchPredictor ready: %s, batching=%s", model.describe(), s.batching)

    def health_status(self) -> dict[str, Any]:
        """Ready only after ``load()`` (weights verified and warmed up)."""
        model = self._loaded()[0]
        return {"status": "ready", "batching": self.settings.batching, **model.describe()}

    # ----- requests -----
    def predict_raw(self, request: Message) -> Message:
        """A Seldon message in (REST dict or gRPC proto), probabilities out."""
        model, runner = self._loaded()
        limit = self.settings.max_request_size
        size = model.metadata.input_size
        try:
            with runner.arriving() as slot:  # announced while decoding: batcher may wait
                array = message.read_message(
                    request,
                    max_values=limit * size[0] * size[1] * size[2],
                    limit=f"max_request_size ({limit} samples of {size})",
                )
                future = slot.submit(check_input(array, size, limit))
            result = runner.wait(future)
        except SeldonGraphError:
            raise
        except Exception as exc:  # never let Seldon retry or report an unknown error
            logger.exception("TorchPredictor predict failed")
            raise InternalError(f"prediction failed: {type(exc).__name__}: {exc}") from exc
        return message.reply(
            request,
            result.output,
            keep_form=True,
            names=model.metadata.classes,
            tags={"model_version": model.metadata.version},
            metrics=request_metrics(result),
        )

    def _loaded(self) -> tuple[InferenceModel, DynamicBatcher]:
        model, runner = self._model, self._runner
        if model is None or runner is None:
            raise Unavailable("the model is not loaded yet (loading weights or warming up)")
        return model, runner


def request_metrics(result: BatchResult) -> list[dict[str, Any]]:
    """The Seldon custom metrics of one request."""
    return [
        {"type": "GAUGE", "key": "batch_size", "value": result.batch_size},
        {"type": "TIMER", "key": "queue_wait_ms", "value": round(result.queue_wait_ms, 3)},
        {"type": "TIMER", "key": "inference_ms", "value": round(result.inference_ms, 3)},
        {"type": "COUNTER", "key": "requests", "value": 1},
    ]
