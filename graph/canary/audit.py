"""The rollout's audit trail: one JSON object per line, appended and flushed at once.

Every record has ``ts`` (UTC, ISO 8601), ``event`` and ``deployment``. Events:

- ``step``: weights written (``step``, ``weights``, ``applied``);
- ``decision``: one health check (``step``, ``weights``, ``window_s``, ``predictors``
  {name: requests, errors, error_rate, p99_s, drift, drift_p_value}, ``reference`` (whose
  numbers stood for main), ``thresholds``, ``verdict`` continue|wait|rollback|complete,
  ``reason``; with a Prometheus source also ``prometheus`` {window,
  series_at_window_start, samples_in_window, time}, and ``predictors`` is empty when the
  window was not filled, see :mod:`graph.canary.window`);
- ``rollback`` / ``promote`` / ``complete``: the end of the rollout (``weights``, ``reason``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class AuditLog:
    """Appends records to ``path`` (or keeps them in memory only when ``path`` is None)."""

    def __init__(
        self,
        path: str | Path | None,
        deployment: str,
        on_record: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self._on_record = on_record
        self.deployment = deployment
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"ts": _now(), "event": event, "deployment": self.deployment, **fields}
        line = json.dumps(record, sort_keys=False, allow_nan=False, default=str)
        with self._lock:
            self.records.append(record)
            if self.path is not None:
                with open(self.path, "a", encoding="utf-8") as out:
                    out.write(line + "\n")
                    out.flush()
                    os.fsync(out.fileno())
        if self._on_record is not None:
            self._on_record(record)
        return record
