"""Running graphs for the gateway/runner tests, started once per session and always stopped.

``serve_process`` starts ``seldon-graph serve`` as users do (a real CLI process on free
loopback ports) with a marker in its environment; every node process inherits it, so
``marked_pids(marker)`` finds whatever the run left behind and cleanup kills it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.fixtures.processes import VENV_BIN, free_port

ROOT = Path(__file__).resolve().parents[2]
MARKER_ENV = "SELDON_GRAPH_TEST_RUN"
TOY = "tests.fixtures.toy_components"


def toy_container(name: str, cls: str, service_type: str) -> dict[str, Any]:
    env = {"MODEL_NAME": f"{TOY}.{cls}", "SERVICE_TYPE": service_type, "GUNICORN_THREADS": "2"}
    return {
        "name": name,
        "image": "toy:1",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }


def toy_node(
    name: str, type_: str, params: dict[str, tuple[str, str]], children: Sequence[dict] = ()
) -> dict:
    return {
        "name": name,
        "type": type_,
        "endpoint": {"type": "REST"},
        "parameters": [{"name": k, "type": t, "value": v} for k, (t, v) in params.items()],
        "children": list(children),
    }


def toy_manifest_doc(main: int = 90, canary: int = 10, shadow: bool = True) -> dict[str, Any]:
    """Deployment ``test/toy``: main = offset(+1) -> scale(x2) tagged "main", canary =
    scale(x3) tagged "canary", and a shadow scale(x5) tagged "shadow"."""

    def predictor(
        name: str, traffic: int, graph: dict, containers: list[dict], **extra: Any
    ) -> dict:
        return {"name": name, "traffic": traffic, "graph": graph,
                "componentSpecs": [{"spec": {"containers": containers}}], **extra}  # fmt: skip

    main_graph = toy_node(
        "offset", "TRANSFORMER", {"name": ("STRING", "main-offset"), "offset": ("FLOAT", "1")},
        [toy_node("scale", "MODEL", {"name": ("STRING", "main"), "factor": ("FLOAT", "2")})],
    )  # fmt: skip

    def scale(tag: str, factor: str) -> dict:
        return toy_node("scale", "MODEL", {"name": ("STRING", tag), "factor": ("FLOAT", factor)})

    scale_container = [toy_container("scale", "Scale", "MODEL")]
    main_containers = [toy_container("offset", "AddOffset", "TRANSFORMER"), *scale_container]
    predictors = [
        predictor("main", main, main_graph, main_containers),
        predictor("canary", canary, scale("canary", "3"), scale_container),
    ]
    if shadow:
        predictors.append(
            predictor("shadow", 0, scale("shadow", "5"), scale_container, shadow=True)
        )
    metadata: dict[str, Any] = {"name": "toy", "namespace": "test"}
    metadata["annotations"] = {"seldon.io/rest-timeout": "3000"}
    spec = {"name": "toy", "protocol": "seldon", "transport": "rest", "predictors": predictors}
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": metadata,
        "spec": spec,
    }


@pytest.fixture(scope="session")
def toy_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manifests") / "toy.yaml"
    path.write_text(yaml.safe_dump(toy_manifest_doc()))
    return path


def tensor(values: Sequence[float]) -> dict[str, Any]:
    return {"data": {"tensor": {"shape": [1, len(values)], "values": list(values)}}}


# ------------------------------------------------------------------ serve processes
@dataclass
class Served:
    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    run_dir: Path
    marker: str
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def nodes(self) -> dict[str, dict[str, Any]]:
        return dict(json.loads((self.run_dir / "nodes.json").read_text()))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def marked_pids(marker: str) -> list[int]:
    """Live processes whose environment carries ``MARKER_ENV=marker``."""
    needle = f"{MARKER_ENV}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                status = (entry / "stat").read_text()
                if status.rsplit(")", 1)[1].split()[0] != "Z":  # zombies hold nothing
                    found.append(int(entry.name))
    return found


def kill_marked(marker: str) -> None:
    for pid in marked_pids(marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def wait_ready(served: Served, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(
                f"serve exited with {served.process.returncode}:\n{served.log()[-6000:]}"
            )
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{served.url}/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise TimeoutError(f"serve not ready after {timeout}s:\n{served.log()[-6000:]}")


def stop_serve(served: Served, timeout: float = 30.0) -> int | None:
    """SIGTERM the serve process and wait for it; returns its exit code."""
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
        try:
            served.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait(timeout=5)
    return served.process.returncode


@contextlib.contextmanager
def serve_process(
    manifest: Path, log_dir: Path, *extra: str, ready_timeout: float = 150.0
) -> Iterator[Served]:
    """``seldon-graph serve MANIFEST`` on free ports until the block ends (then no process
    of the run is left, whatever happened)."""
    marker = uuid.uuid4().hex
    http_port, grpc_port = free_port(), free_port()
    run_dir = log_dir / f"run-{marker[:8]}"
    log_path = log_dir / f"serve-{marker[:8]}.log"
    cmd = [
        str(VENV_BIN / "seldon-graph"), "serve", str(manifest),
        "--http-port", str(http_port), "--grpc-port", str(grpc_port),
        "--run-dir", str(run_dir), "--seed", "1234", "--drain-grace", "5", *extra,
    ]  # fmt: skip
    env = {**os.environ, MARKER_ENV: marker, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
        )
    served = Served(process, http_port, grpc_port, run_dir, marker, log_path)
    try:
        wait_ready(served, ready_timeout)
        yield served
    finally:
        stop_serve(served)
        kill_marked(marker)


@pytest.fixture(scope="session")
def toy_served(toy_manifest: Path, log_dir: Path) -> Iterator[Served]:
    """The toy deployment served by real node processes (session-wide)."""
    with serve_process(toy_manifest, log_dir) as served:
        yield served


@pytest.fixture(scope="session")
def digits_served(artifacts_dir: Path, log_dir: Path) -> Iterator[Served]:
    """graph/seldondeployment.yaml with the real components and artifacts (session-wide)."""
    manifest = ROOT / "graph" / "seldondeployment.yaml"
    with serve_process(
        manifest, log_dir, "--models-dir", str(artifacts_dir), ready_timeout=240
    ) as served:
        yield served
