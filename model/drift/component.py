"""``DriftDetector``: a pass-through graph node that watches its inputs for drift.

As a TRANSFORMER between the image transformer and the predictor, ``transform_input_raw``
returns the request it got (the same REST dict or gRPC ``SeldonMessage``, data untouched)
with ``meta.tags`` ``drift.is_drift``, ``drift.p_value``, ``drift.distance`` and
``drift.window`` (windows tested so far; 0 and null p-value/distance before the first)
and ``meta.metrics`` set to this node's metrics only (incoming metrics are dropped from the
reply, since Seldon would export them again as this node's). Requests never wait on a
test: ``model.drift.worker.DriftWorker`` buffers the instances and tests full windows in a
background thread with the detector from ``model.drift.mmd``.

As a sink for Seldon's request logger, ``predict_raw`` takes the CloudEvent POSTed to
``/api/v1.0/predictions`` (binary mode: ``ce-*`` headers, body = the logged
SeldonMessage; a structured-mode event's ``data`` is unwrapped), adds its instances and
replies ``jsonData`` = the current verdict. With ``PAYLOAD_PASSTHROUGH=true`` it also takes
a proto body (``Content-Type: application/protobuf``, the logger of a gRPC graph); the
wrapper then exports no metrics for that reply. Logged responses (``ce-type`` ending in
``.response``) are acknowledged but not added: log the predictor node's requests.

Inputs: float32 NCHW (N, C, S, S) normalised, as ``data.tensor``, ``data.tftensor`` or
``data.ndarray``. A message the detector cannot use (no numeric data, wrong rank or
instance shape, values that do not fill the shape) is rejected with ``InvalidInput``
naming the problem; the node forwards only what the predictor can take anyway.

Metrics (Seldon custom metrics, exported on the metrics port): gauges
``seldon_metric_drift_{p_val,distance,is_drift,threshold}`` (alibi-detect-server names)
and counters ``seldon_metric_drift_counter`` (windows flagged as drift),
``drift_windows_tested`` and ``drift_instances_dropped`` (buffer full or undecodable).
Seldon adds a COUNTER's value to its total, so each reply carries the increase since the
previous reply of this process (Prometheus shows them with a ``_total`` suffix).

Each process (every Gunicorn worker and the gRPC worker) has its own buffer and detector.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from google.protobuf.message import DecodeError
from seldon_core.proto import prediction_pb2

from model import seldon
from model.drift.instances import instances
from model.drift.worker import DriftWorker, Stats, Verdict
from model.errors import InvalidInput, Unavailable
from model.seldon import message as seldon_message
from model.settings import DriftSettings, build_settings

logger = logging.getLogger(__name__)

GAUGES = {
    "seldon_metric_drift_p_val": "p_value",
    "seldon_metric_drift_distance": "distance",
    "seldon_metric_drift_is_drift": "is_drift",
}
THRESHOLD_GAUGE = "seldon_metric_drift_threshold"
COUNTERS = {
    "seldon_metric_drift_counter": "drift_detections",
    "drift_windows_tested": "windows_tested",
    "drift_instances_dropped": "instances_dropped",
}


class DriftDetector:
    """Seldon component; parameters are ``model.settings.DriftSettings`` fields."""

    def __init__(self, **parameters: Any) -> None:
        self.settings = build_settings(DriftSettings, "DriftDetector", parameters)
        self.model_error_handler = seldon.install()  # adapt the wrapper (model.seldon)
        self._worker: DriftWorker | None = None
        self._input_shape: tuple[int, int, int] | None = None
        self._reported = Stats()
        self._report_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------
    def load(self) -> None:
        """Verify the artifacts, build the detector and start the worker (after the fork)."""
        from model.drift.mmd import build_window_test

        if self._worker is not None:  # already loaded in this process
            return
        test = build_window_test(self.settings)
        worker = DriftWorker(
            test,
            self.settings.window_size,
            self.settings.buffer_windows * self.settings.window_size,
        )
        worker.start()
        self._input_shape = test.input_shape
        self._worker = worker
        logger.info(
            "drift detector ready: reference %d, window %d, p_val %s, %d permutations",
            test.reference_size,
            self.settings.window_size,
            self.settings.p_val,
            self.settings.n_permutations,
        )

    def close(self) -> None:
        """Stop the worker thread (tests and embedding; Seldon just exits)."""
        if self._worker is not None:
            self._worker.stop()

    def health_status(self) -> dict[str, Any]:
        """Ready once load() has built the detector: the verdict and this process's counts."""
        worker = self._ready()
        stats = worker.stats
        return {
            "status": "ready",
            **self.verdict_dict(worker.verdict),
            "instances_received": stats.instances_received,
            "instances_dropped": stats.instances_dropped,
            "instances_buffered": worker.buffered,
            "windows_tested": stats.windows_tested,
        }

    # -- Seldon methods ------------------------------------------------------------------
    def transform_input_raw(self, message: Any) -> Any:
        """Queue the message's instances; return it unchanged plus drift tags and metrics."""
        worker = self._ready()
        worker.submit(*instances(message, self._shape()))
        return self._annotate(message, worker)

    def predict_raw(self, message: Any) -> Any:
        """Request-logger sink: add a logged request's instances; reply with the verdict."""
        worker = self._ready()
        raw = isinstance(message, bytes | str)  # PAYLOAD_PASSTHROUGH=true: the body as is
        if raw:
            message = _parse_body(message)
        if isinstance(message, dict):
            message = _unwrap_cloudevent(message)
        if not _is_logged_response():
            worker.submit(*instances(message, self._shape()))
        verdict = seldon_message.json_reply(message, self.verdict_dict(worker.verdict))
        reply = self._annotate(verdict, worker)
        if raw:  # the wrapper sends a passthrough reply as it is (and exports no metrics)
            return reply.SerializeToString() if not isinstance(reply, dict) else json.dumps(reply)
        return reply

    # -- helpers -------------------------------------------------------------------------
    def _ready(self) -> DriftWorker:
        worker = self._worker
        if worker is None:
            raise Unavailable("drift detector is still loading (load() has not finished)")
        if not worker.is_alive():
            raise Unavailable("drift worker thread is not running")
        return worker

    def _shape(self) -> tuple[int, int, int]:
        assert self._input_shape is not None
        return self._input_shape

    @staticmethod
    def verdict_dict(verdict: Verdict | None) -> dict[str, Any]:
        """The ``drift.*`` tags of a verdict (nulls before the first window)."""
        if verdict is None:
            return {"drift.is_drift": False, "drift.p_value": None, "drift.distance": None,
                    "drift.window": 0}  # fmt: skip
        return {
            "drift.is_drift": verdict.is_drift,
            "drift.p_value": verdict.p_value,
            "drift.distance": verdict.distance,
            "drift.window": verdict.window,
        }

    def metrics_since_last_reply(self, worker: DriftWorker) -> list[dict[str, Any]]:
        """Gauges for the latest verdict and counter increases since the previous reply."""
        with self._report_lock:
            now, before = worker.stats, self._reported
            self._reported = now
        out: list[dict[str, Any]] = [
            {"type": "GAUGE", "key": THRESHOLD_GAUGE, "value": float(self.settings.p_val)}
        ]
        verdict = worker.verdict
        if verdict is not None:
            for key, field in GAUGES.items():
                out.append({"type": "GAUGE", "key": key, "value": float(getattr(verdict, field))})
        for key, field in COUNTERS.items():
            out.append(
                {
                    "type": "COUNTER",
                    "key": key,
                    "value": getattr(now, field) - getattr(before, field),
                }
            )
        return out

    def _annotate(self, message: Any, worker: DriftWorker) -> Any:
        tags = self.verdict_dict(worker.verdict)
        return seldon_message.annotate(message, tags, self.metrics_since_last_reply(worker))


def _unwrap_cloudevent(body: dict[str, Any]) -> dict[str, Any]:
    """A structured-mode CloudEvent carries the message in ``data``; binary mode is the body."""
    if "specversion" in body and isinstance(body.get("data"), dict):
        return body["data"]
    return body


def _parse_body(body: bytes | str) -> Any:
    """A passthrough body: a SeldonMessage proto (``application/protobuf``) or JSON."""
    from flask import has_request_context, request

    kind = request.mimetype if has_request_context() else ""
    try:
        if kind in ("application/protobuf", "application/x-protobuf"):
            raw = body.encode() if isinstance(body, str) else body
            return prediction_pb2.SeldonMessage.FromString(raw)
        return json.loads(body)
    except (DecodeError, ValueError) as exc:
        raise InvalidInput(f"the body is not a SeldonMessage ({kind or 'JSON'}): {exc}") from None


def _is_logged_response() -> bool:
    """True for a REST CloudEvent of a logged response (``ce-type: ....response``)."""
    from flask import has_request_context, request

    return has_request_context() and request.headers.get("ce-type", "").endswith(".response")
