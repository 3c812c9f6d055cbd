"""Raw gRPC replies may carry custom metrics whose value is 0 (seldon-core 1.17.1 fails on them).

``install()`` is called by ``model.seldon.install`` in every component.
"""

from __future__ import annotations

import threading
from typing import Any

_fix_lock = threading.Lock()
_fix_installed = False


def install() -> None:
    """Let raw gRPC replies carry metrics whose value is 0.

    seldon-core 1.17.1 reads a raw proto reply's metrics with ``MessageToJson``, which
    omits fields at their default (``value: 0``, ``type: COUNTER``), then fails on
    ``metrics["value"]``. This wraps ``handle_raw_custom_metrics`` once per process to read
    them with default values included; REST replies go through unchanged.
    """
    global _fix_installed
    with _fix_lock:
        if _fix_installed:
            return
        import seldon_core.seldon_methods as methods
        from google.protobuf import json_format
        from seldon_core.user_model import INCLUDE_METRICS_IN_CLIENT_RESPONSE

        original = methods.handle_raw_custom_metrics

        def handle(msg: Any, seldon_metrics: Any, is_proto: bool, method: str) -> None:
            if not is_proto:
                return original(msg, seldon_metrics, is_proto, method)
            meta = json_format.MessageToDict(msg.meta, including_default_value_fields=True)
            metrics = meta.get("metrics", [])
            if metrics and not INCLUDE_METRICS_IN_CLIENT_RESPONSE:
                del msg.meta.metrics[:]
            seldon_metrics.update(metrics, method)
            return None

        methods.handle_raw_custom_metrics = handle
        _fix_installed = True
