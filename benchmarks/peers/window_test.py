"""The drift detector's window test in a helper process of the project's venv.

alibi-detect 0.11 needs pydantic 1, BentoML 1.4 and Ray Serve 2.60 need pydantic 2, so a
peer's drift node cannot import ``model.drift.mmd``. It runs the very same test here
instead: ``python -m benchmarks.peers.window_test MODEL_URI`` (project venv) builds
``model.drift.mmd.build_window_test`` with the graph's settings (window 64, p_val 0.05)
and answers windows read from stdin (8-byte length + ``.npy`` bytes) with one JSON line
each. ``RemoteWindowTest`` (stdlib and numpy only, so it imports in a peer's venv) is the
``test_window`` callable the peer's ``DriftWorker`` calls from its background thread: the
request path never waits on it, as in the graph.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import threading
from typing import Any

import numpy as np

HEADER = struct.Struct("<Q")
WINDOW_SIZE = 64  # the manifest's drift-detector parameters
P_VAL = 0.05


def encode(x: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(x, dtype=np.float32), allow_pickle=False)
    body = buffer.getvalue()
    return HEADER.pack(len(body)) + body


def read_window(stream: Any) -> np.ndarray | None:
    """The next window from ``stream``, or ``None`` at end of input."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return np.load(io.BytesIO(body), allow_pickle=False)


class RemoteWindowTest:
    """``test_window(x) -> result`` answered by the helper process (one window at a time)."""

    def __init__(self, project_python: str, model_uri: str, make_result: Any) -> None:
        self._make_result = make_result  # WindowResult of the peer's DriftWorker module
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [project_python, "-m", "benchmarks.peers.window_test", model_uri],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_project_env(),
        )  # fmt: skip
        ready = self._process.stdout.readline() if self._process.stdout else b""
        if not ready.startswith(b"ready"):
            raise RuntimeError(f"drift window-test helper did not start: {ready!r}")

    def __call__(self, x: np.ndarray) -> Any:
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        with self._lock:
            process.stdin.write(encode(x))
            process.stdin.flush()
            line = process.stdout.readline()
        if not line:
            raise RuntimeError("drift window-test helper exited")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return self._make_result(**answer)

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=30)


def _project_env() -> dict[str, str]:
    """The helper runs in the project's venv: drop the peer venv from the environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    return env


def main(argv: list[str]) -> int:
    from model.drift.mmd import build_window_test
    from model.settings import DriftSettings, build_settings

    # Answers go to the original stdout; anything the libraries print goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    params = {"model_uri": argv[0], "window_size": WINDOW_SIZE, "p_val": P_VAL}
    test = build_window_test(build_settings(DriftSettings, "window-test", params))
    out.write(b"ready\n")
    out.flush()
    while (window := read_window(sys.stdin.buffer)) is not None:
        try:
            r = test(window)
            answer: dict[str, Any] = {"is_drift": r.is_drift, "p_value": r.p_value,
                                      "distance": r.distance, "threshold": r.threshold}  # fmt: skip
        except Exception as exc:  # reported to the caller, which logs and skips the window
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer).encode() + b"\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
