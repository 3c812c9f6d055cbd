"""Start-up errors: a node that cannot start during serve's first start ends serve
within seconds, naming the node, the telling log lines and the likely fix."""

from __future__ import annotations

import copy
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from graph.runner.plan import NodePlan
from graph.runner.startup import likely_fix, telling_lines
from tests.fixtures.graphs import MARKER_ENV, ROOT, kill_marked, marked_pids
from tests.fixtures.processes import VENV_BIN, free_port

MANIFEST = ROOT / "graph" / "seldondeployment.yaml"
GUNICORN_EXIT = """\
Traceback (most recent call last):
  File "model/predictor.py", line 1, in load
model.errors.ArtifactError: model_uri '/mnt/models' is not a directory
[2026-12-05 23:52:52 +0000] [28780] [INFO] Worker exiting (pid: 28780)
Exception ignored in atexit callback: <function _exit_function at 0x7f>
Traceback (most recent call last):
  File "multiprocessing/util.py", line 357, in _exit_function
AssertionError: can only join a child process
[2026-12-05 23:52:53 +0000] [28508] [INFO] Shutting down: Master
[2026-12-05 23:52:53 +0000] [28508] [INFO] Reason: Worker failed to boot.
"""


def plan(parameters: list[dict[str, str]]) -> NodePlan:
    return NodePlan("d", "p", "n", "pkg.Model", "MODEL", tuple(parameters))


def test_the_telling_lines_end_at_the_last_exception() -> None:
    lines = telling_lines(GUNICORN_EXIT, count=3)
    assert lines[-1].startswith("model.errors.ArtifactError: model_uri '/mnt/models'")
    assert len(lines) == 3


def test_likely_fixes() -> None:
    mounted = plan([{"name": "model_uri", "type": "STRING", "value": "/mnt/models"}])
    assert "--models-dir" in likely_fix(mounted, telling_lines(GUNICORN_EXIT))
    missing = ["ModuleNotFoundError: No module named 'pkg'"]
    assert "cannot be imported" in likely_fix(plan([]), missing)


def one_node_manifest(path: Path) -> Path:
    """The shipped manifest's main predictor with the classifier alone."""
    doc: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    predictor = copy.deepcopy(doc["spec"]["predictors"][0])
    node = predictor["graph"]
    while node["name"] != "classifier":
        node = node["children"][0]
    predictor["graph"] = {**node, "children": []}
    predictor["traffic"] = 100
    (component,) = [
        c for c in predictor["componentSpecs"]
        if any(x["name"] == "classifier" for x in c["spec"]["containers"])
    ]  # fmt: skip
    spec = component["spec"]
    spec["containers"] = [c for c in spec["containers"] if c["name"] == "classifier"]
    predictor["componentSpecs"] = [component]
    doc["spec"]["predictors"] = [predictor]
    path.write_text(yaml.safe_dump(doc))
    return path


def test_serve_without_models_dir_exits_naming_node_log_and_fix(tmp_path: Path) -> None:
    manifest = one_node_manifest(tmp_path / "one.yaml")
    marker = uuid.uuid4().hex
    ports = ["--http-port", str(free_port()), "--grpc-port", str(free_port())]
    cmd = [str(VENV_BIN / "seldon-graph"), "serve", str(manifest), *ports,
           "--run-dir", str(tmp_path / "run")]  # fmt: skip
    started = time.monotonic()
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, cwd=ROOT,
            env={**os.environ, MARKER_ENV: marker},
        )  # fmt: skip
        took = time.monotonic() - started
        assert done.returncode == 1, done.stderr[-3000:]
        assert "node digits/main/classifier did not start (exited with code" in done.stderr
        assert "ArtifactError: model_uri '/mnt/models' is not a directory" in done.stderr
        assert "likely fix: its parameters point at /mnt/models" in done.stderr
        assert "--models-dir" in done.stderr
        assert took < 60, took  # not the 180 s readiness timeout, no back-off restarts
        assert marked_pids(marker) == []
    finally:
        kill_marked(marker)
