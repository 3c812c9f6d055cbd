"""Everything that adapts seldon-core 1.17.1, the Python wrapper our components run in.

One call, ``install()``, in each component's constructor (before Seldon forks) applies
them all and returns the component's ``model_error_handler`` blueprint:

- ``grpc_status``: the wrapper's gRPC servicer aborts with our status codes (1.17.1 reports
  every exception as UNKNOWN) and parses requests leniently (4xx for bad bytes);
- ``metrics``: custom metrics aggregated per process instead of six manager round trips per
  request (``SeldonMetrics.update``);
- ``proto_metrics``: raw gRPC replies may carry metrics whose value is 0;
- ``rest_guard`` + ``json_provider``: 4xx instead of Flask 500s on bad bodies and paths, a
  body limit, orjson as the Flask JSON provider.

``message`` (with ``tensors``) reads and writes the Seldon message, REST dict and gRPC
proto, for all three components. An upgrade of seldon-core is one folder to revisit.
"""

from __future__ import annotations

from flask import Blueprint

from model.seldon import grpc_status, metrics, proto_metrics, rest_guard


def install(max_body_bytes: int = rest_guard.DEFAULT_MAX_BODY) -> Blueprint:
    """Apply every adaptation to this process; the blueprint for ``model_error_handler``."""
    grpc_status.install()
    metrics.install()
    proto_metrics.install()
    return rest_guard.blueprint(max_body_bytes)
