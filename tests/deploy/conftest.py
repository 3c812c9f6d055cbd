"""Helpers for the image and s2i tests: read the Dockerfile and env files, start a
component with a container's shell command on free loopback ports."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from graph.containers import engine
from scripts.image import build
from tests.fixtures.processes import free_port, stop_process, wait_http_ready

ROOT = Path(__file__).resolve().parents[2]
TAG = "seldon-graph:0.1.0"  # what `make image` tags
DOCKERFILE = ROOT / "Dockerfile"
S2I_DIR = ROOT / "s2i"

# The three components the one image runs, as the manifest names them.
COMPONENTS = {
    "transformer": ("model.transformer.ImageTransformer", "TRANSFORMER"),
    "drift-detector": ("model.drift.DriftDetector", "TRANSFORMER"),
    "classifier": ("model.predictor.TorchPredictor", "MODEL"),
}


@dataclass
class Stage:
    """One ``FROM`` stage of a Dockerfile: its base and its instructions in order."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages; joins continued lines, drops comments."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif not stages and keyword == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def stage_chain(stages: list[Stage], target: str | None = None) -> list[Stage]:
    """The stages an image is built from, base first (default target: the last stage)."""
    by_name = {stage.name: stage for stage in stages if stage.name}
    stage = by_name[target] if target else stages[-1]
    chain = [stage]
    while stage.base in by_name:
        stage = by_name[stage.base]
        chain.insert(0, stage)
    return chain


def parse_env_instructions(values: list[str]) -> dict[str, str]:
    """``ENV K=V K2=V2`` instructions (in order) as one mapping."""
    env: dict[str, str] = {}
    for value in values:
        for item in shlex.split(value):
            key, _, val = item.partition("=")
            env[key] = val
    return env


def read_env_file(path: Path) -> dict[str, str]:
    """An s2i ``--environment-file``: KEY=VALUE lines, ``#`` comments and blanks skipped."""
    env = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line.strip())
        assert match, f"{path.name}: not KEY=VALUE: {line!r}"
        env[match.group(1)] = match.group(2)
    return env


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    http_port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@contextlib.contextmanager
def shell_component(
    command: str,
    env: Mapping[str, str],
    *,
    model_uri: Path,
    cwd: Path,
    log_path: Path,
    ready_timeout: float = 240.0,
) -> Iterator[Started]:
    """Run ``sh -c COMMAND`` as a container would, on free loopback ports (set through the
    wrapper's PREDICTIVE_UNIT_* variables), until ``/health/status`` answers; always stop it.
    """
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    child_env = {
        **env,
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(http_port),
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(grpc_port),
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics_port),
        "PREDICTIVE_UNIT_PARAMETERS": json.dumps(
            [{"name": "model_uri", "type": "STRING", "value": str(model_uri)}]
        ),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["sh", "-c", command],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=cwd,
            start_new_session=True,
        )
    try:
        started = Started(process, http_port, log_path)
        wait_http_ready(f"{started.url}/health/status", process, ready_timeout, log_path)
        yield started
    finally:
        stop_process(process)


def base_env() -> dict[str, str]:
    """A minimal environment for a component process (no PYTHONPATH, no venv leaks)."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def container_engine() -> Iterator[engine.Engine]:
    """The Docker API of dockerd, else of a Podman service, for the session."""
    with engine.connect() as connected:
        engine.remove_leftovers(connected)  # of a session that was killed
        try:
            yield connected
        finally:
            engine.remove_leftovers(connected)


@pytest.fixture(scope="session")
def image(container_engine: engine.Engine, log_dir: Path) -> str:
    """The image, built once a session (its dependency layers come from the engine's cache)."""
    seconds = build.build(TAG, engine=container_engine.name)
    report = {**build.image_report(container_engine.name, TAG), "build_s": round(seconds, 1)}
    (log_dir / "image-build.json").write_text(json.dumps(report, indent=2) + "\n")
    return TAG
