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
    """The node's environment: this process's env, then the container's env as the
    operator renders it (``plan.container_env``), then local ports.

    ``cwd`` goes first on ``PYTHONPATH`` so that ``MODEL_NAME`` modules of the working
    directory win over same-named installed packages (the wrapper only appends it).
    ``threads`` caps ``OMP_NUM_THREADS``; one set in ``base`` (the caller's env) wins.
    """
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
    if plan.rendered:
        if "PREDICTIVE_UNIT_PARAMETERS" in plan.container_env:  # /mnt/models mapped
            env["PREDICTIVE_UNIT_PARAMETERS"] = plan.parameters_json()
        env.setdefault("PREDICTIVE_UNIT_METRICS_ENDPOINT", METRICS_PATH)
    else:  # a plan made without the operator's rendering (bare nodes in tests)
        env.update(
            {
                "PREDICTIVE_UNIT_PARAMETERS": plan.parameters_json(),
                "PREDICTIVE_UNIT_ID": plan.node,
                "PREDICTOR_ID": plan.predictor,
                "SELDON_DEPLOYMENT_ID": plan.deployment,
                "PREDICTIVE_UNIT_METRICS_ENDPOINT": METRICS_PATH,
            }
        )
    env.update(local_ports(plan.container_env, ports))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def local_ports(rendered: Mapping[str, str], ports: tuple[int, int, int]) -> dict[str, str]:
    """The port variables with this machine's free ports in place of the rendered ones
    (the ``MLSERVER_*`` ones only where the rendering has them).
    ``PREDICTIVE_UNIT_SERVICE_PORT`` stays the gRPC port where it was the gRPC one."""
    http, grpc, metrics = (str(p) for p in ports)
    grpc_rendered = rendered.get("PREDICTIVE_UNIT_GRPC_SERVICE_PORT")
    service = rendered.get("PREDICTIVE_UNIT_SERVICE_PORT")
    out = {
        "PREDICTIVE_UNIT_SERVICE_PORT": grpc if service and service == grpc_rendered else http,
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": http,
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": grpc,
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": metrics,
    }
    for name, value in (
        ("MLSERVER_HTTP_PORT", http),
        ("MLSERVER_GRPC_PORT", grpc),
        ("MLSERVER_METRICS_PORT", metrics),
    ):
        if name in rendered:
            out[name] = value
    return out
