"""Seldon's custom-metrics store without six round trips to another process per request.

seldon-core 1.17.1 keeps each worker's custom metrics (``meta.metrics`` of the replies)
in a ``multiprocessing.Manager`` dict, which its metrics server, another process, reads.
``SeldonMetrics.update`` runs on every request, with or without metrics: lock the manager,
read the worker's whole dict, unlock, update it, lock, write it back, unlock: six round
trips to the manager process. py-spy on the graph at 150 req/s: 59% of the drift node's
and 25% of the classifier's request time. Its read-modify-write over two lock regions
also loses updates when two threads of a worker overlap.

``install()`` (called by each component's constructor, before Seldon forks) replaces
``update`` with: aggregate into this process's own copy under a thread lock (the keys,
label sets, counters, gauges and histograms that Seldon stores), then one background
thread per process writes the copy to the manager, coalescing everything that arrived
within ``FLUSH_INTERVAL_S``. The metrics endpoint shows the same series, at most about
0.1 s late; a request without metrics costs nothing. ``clear`` (Gunicorn's worker-exit
hook) stops the flushing before Seldon deletes the worker's entry.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from seldon_core import metrics as seldon_metrics_module
from seldon_core.metrics import BINS, SeldonMetrics

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.1
_STORES: dict[tuple[int, int], _Store] = {}
_STORES_LOCK = threading.Lock()
ORIGINAL_UPDATE = SeldonMetrics.update
_ORIGINAL_CLEAR = SeldonMetrics.clear


def install() -> None:
    """Route ``SeldonMetrics.update`` / ``clear`` through per-process stores (idempotent)."""
    if SeldonMetrics.update is _update:
        return
    SeldonMetrics.update = _update
    SeldonMetrics.clear = _clear


def aggregate(
    store: SeldonMetrics, data: dict[Any, Any], metric: Mapping[str, Any], method: str
) -> None:
    """Add one ``{type, key, value, tags}`` metric to ``data`` as Seldon keys and values it."""
    kind = metric.get("type", seldon_metrics_module.COUNTER)
    tags = metric.get("tags", {})
    tags["method"] = method  # Seldon tags the reply's own metric dict too
    key = (kind, metric["key"], SeldonMetrics._generate_tags_key(tags))
    value = metric["value"]
    if kind == seldon_metrics_module.COUNTER:
        data[key] = {"value": data.get(key, {}).get("value", 0) + value, "tags": dict(tags)}
    elif kind == seldon_metrics_module.TIMER:
        empty = (list(np.zeros(len(BINS) - 1)), 0)
        counts, total = data.get(key, {}).get("value", empty)
        data[key] = {"value": store._update_hist(value / 1000, counts, total), "tags": dict(tags)}
    elif kind == seldon_metrics_module.GAUGE:
        data[key] = {"value": value, "tags": dict(tags)}
    else:
        logger.error("unknown metric type %r for %r", kind, metric["key"])


class _Store:
    """One process's metrics for one ``SeldonMetrics``, written back by a flusher thread."""

    def __init__(self, shared: SeldonMetrics) -> None:
        self._shared = shared
        self._lock = threading.Lock()
        self._data: dict[Any, Any] | None = None
        self._dirty = threading.Event()
        self._closed = False
        threading.Thread(target=self._flush_loop, name="seldon-metrics-flush", daemon=True).start()

    def add(self, custom_metrics: list[dict[str, Any]], method: str) -> None:
        with self._lock:
            if self._data is None:  # what this worker id already has (normally nothing)
                with self._shared._lock:
                    self._data = dict(self._shared.data.get(self._shared.worker_id_func(), {}))
            for metric in custom_metrics:
                aggregate(self._shared, self._data, metric, method)
        if not self._dirty.is_set():  # set() takes the event's lock: skip while pending
            self._dirty.set()

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def _flush_loop(self) -> None:
        while True:
            self._dirty.wait()
            time.sleep(FLUSH_INTERVAL_S)  # coalesce what arrives meanwhile
            self._dirty.clear()
            with self._lock:
                if self._closed:
                    return
                snapshot = dict(self._data or {})  # entries are replaced, never mutated
            try:
                with self._shared._lock:
                    self._shared.data[self._shared.worker_id_func()] = snapshot
            except (OSError, EOFError) as exc:  # the manager is gone: the server is stopping
                logger.debug("metrics flush stopped: %s", exc)
                return


def _store(shared: SeldonMetrics) -> _Store:
    key = (id(shared), os.getpid())  # a forked worker starts its own store and thread
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = _Store(shared)
        return store


def _update(self: SeldonMetrics, custom_metrics: list[dict[str, Any]], method: str) -> None:
    if custom_metrics:
        _store(self).add(custom_metrics, method)


def _clear(self: SeldonMetrics) -> None:
    with _STORES_LOCK:
        store = _STORES.pop((id(self), os.getpid()), None)
    if store is not None:
        store.close()
    _ORIGINAL_CLEAR(self)
