"""Tests of ``model/batching/``: merge/split and the dynamic batcher."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from model.batching import DynamicBatcher


@pytest.fixture
def stop_after() -> Iterator[list[DynamicBatcher]]:
    """Batchers a test appends here are stopped after it, even when it fails."""
    started: list[DynamicBatcher] = []
    yield started
    for batcher in started:
        batcher.stop()
