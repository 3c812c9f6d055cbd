"""How to start a planned node: the ``seldon-core-microservice`` command and environment.

CPU threads: in a cluster each container has its own CPUs; here every node shares this
machine's. PyTorch (OpenMP) starts one thread per CPU in each process, and a dozen such
pools on a few cores spin against each other (measured: a canary classifier serving
4 req/s burned half a core; the graph served 56 instead of 89 req/s at 32 clients). So
each node gets ``OMP_NUM_THREADS`` = its share of the CPUs (``thread_share``), at most
what its container asks for (a value, or ``valueFrom.resourceFieldRef: limits.cpu`` as the
shipped manifest writes it, resolved the kubelet's way by ``graph/kubelet_env.py``: the
limit rounded up to whole cores); an ``OMP_NUM_THREADS`` set by the caller is used as it is.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from graph.runner.plan import NodePlan
from model.errors import ConfigError

METRICS_PATH = "/prometheus"  # what Seldon's operator sets (the wrapper's default is /metrics)


def microservice_executable() -> str:
    """``seldon-core-microservice`` of this interpreter's environment."""
    beside = Path(sys.executable).parent / "seldon-core-microservice"
    if beside.exists():
        return str(beside)
    found = shutil.which("seldon-core-microservice")
    if not found:
        raise ConfigError("seldon-core-microservice not found (is seldon-core installed?)")
    return found


def command(plan: NodePlan, executable: str, ports: tuple[int, int, int]) -> list[str]:
    """``seldon-core-microservice MODEL_NAME --service-type TYPE`` on the given ports."""
    http_port, grpc_port, metrics_port = ports
    return [
        executable,
        plan.model_name,
        "--service-type",
        plan.service_type,
        "--http-port",
        str(http_port),
        "--grpc-port",
        str(grpc_port),
        "--metrics-port",
        str(metrics_port),
    ]


def thread_share(processes: int, cpus: int | None = None) -> int:
    """CPU threads per process when ``processes`` share this machine (at least 1)."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        cpus = cpus or os.cpu_count() or 1
    return max(1, cpus // max(1, processes))


def environment(
    plan: NodePlan,
    ports: tuple[int, int, int],
    base: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    threads: int | None = None,
) -> dict[str, str]:
    """The node's environment, as Seldon's operator would set it (plus the container's).

    ``cwd`` goes first on ``PYTHONPATH`` so that ``MODEL_NAME`` modules of the working
    directory win over same-named installed packages (the wrapper only appends it).
    ``threads`` caps ``OMP_NUM_THREADS``; one set in ``base`` (the caller's env) wins.
    """
    http_port, grpc_port, metrics_port = ports
    env = dict(os.environ if base is None else base)
    caller_threads = env.get("OMP_NUM_THREADS")
    env.update(plan.container_env)
    if caller_threads:
        env["OMP_NUM_THREADS"] = caller_threads
    elif threads is not None:
        asked = plan.container_env.get("OMP_NUM_THREADS", "")
        limit = min(threads, int(asked)) if asked.isdigit() and int(asked) > 0 else threads
        env["OMP_NUM_THREADS"] = str(limit)
    if cwd is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cwd), env.get("PYTHONPATH", "")) if p)
    env.update(
        {
            "PREDICTIVE_UNIT_PARAMETERS": plan.parameters_json(),
            "PREDICTIVE_UNIT_ID": plan.node,
            "PREDICTOR_ID": plan.predictor,
            "SELDON_DEPLOYMENT_ID": plan.deployment,
            "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(http_port),
            "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(grpc_port),
            "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics_port),
            "PREDICTIVE_UNIT_METRICS_ENDPOINT": METRICS_PATH,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
