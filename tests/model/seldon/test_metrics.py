"""model.seldon.metrics: Seldon's metrics store, same series, no IPC per request."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from seldon_core.metrics import SeldonMetrics

from model.seldon import metrics as seldon_metrics

METRICS: list[dict[str, Any]] = [
    {"type": "COUNTER", "key": "requests", "value": 1},
    {"type": "COUNTER", "key": "samples", "value": 3, "tags": {"model_version": "v1"}},
    {"type": "GAUGE", "key": "batch_size", "value": 7},
    {"type": "TIMER", "key": "inference_ms", "value": 4.2},
]


@pytest.fixture(scope="module")
def patched() -> Iterator[None]:
    seldon_metrics.install()
    yield


@pytest.fixture
def store(patched: None) -> Iterator[SeldonMetrics]:
    shared = SeldonMetrics()
    yield shared
    shared.clear()
    shared._manager.shutdown()


def _flushed(shared: SeldonMetrics, timeout: float = 5.0) -> dict[Any, Any]:
    """The worker's entry in the manager once the flusher has written it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with shared._lock:
            data = dict(shared.data.get(shared.worker_id_func(), {}))
        if data:
            time.sleep(3 * seldon_metrics.FLUSH_INTERVAL_S)  # let a pending flush land
            with shared._lock:
                return dict(shared.data.get(shared.worker_id_func(), {}))
        time.sleep(0.02)
    raise AssertionError("nothing was flushed to the metrics manager")


def test_the_manager_holds_what_seldons_own_update_stores(store: SeldonMetrics) -> None:
    reference: dict[Any, Any] = {}
    for _ in range(5):
        for metric in copy.deepcopy(METRICS):
            seldon_metrics.aggregate(store, reference, metric, "predict")
        store.update(copy.deepcopy(METRICS), "predict")
    original = SeldonMetrics()
    try:
        for _ in range(5):
            seldon_metrics.ORIGINAL_UPDATE(original, copy.deepcopy(METRICS), "predict")
        with original._lock:
            expected = dict(original.data[original.worker_id_func()])
    finally:
        original._manager.shutdown()
    assert _flushed(store) == expected == reference


def test_concurrent_threads_lose_no_counts(store: SeldonMetrics) -> None:
    def hammer() -> None:
        for _ in range(200):
            store.update([{"type": "COUNTER", "key": "hits", "value": 1}], "predict")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    values = [item["value"] for (kind, name, _), item in _flushed(store).items() if name == "hits"]
    assert values == [1600]


def test_the_metrics_server_exposes_the_flushed_series(store: SeldonMetrics) -> None:
    store.update(copy.deepcopy(METRICS), "inputtransform")
    _flushed(store)
    text, _ = store.generate_metrics()
    assert "requests_total{" in text and 'method="inputtransform"' in text
    assert "inference_ms_bucket" in text and "batch_size{" in text


def test_a_reply_without_metrics_writes_nothing(store: SeldonMetrics) -> None:
    store.update([], "predict")
    time.sleep(3 * seldon_metrics.FLUSH_INTERVAL_S)
    with store._lock:
        assert store.worker_id_func() not in store.data


def test_clear_removes_the_worker_and_stops_its_flusher(store: SeldonMetrics) -> None:
    store.update(copy.deepcopy(METRICS), "predict")
    _flushed(store)
    store.clear()
    time.sleep(3 * seldon_metrics.FLUSH_INTERVAL_S)
    with store._lock:
        assert store.worker_id_func() not in store.data
