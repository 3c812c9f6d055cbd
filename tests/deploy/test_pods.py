"""graph.containers.pods: the pods of ``serve --runtime containers`` planned from the
operator's rendering of graph/seldondeployment.yaml (no engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.containers.pods import RUNTIME_LABEL, SERVE_LABEL, pod_plans, volumes
from graph.deployments import load_deployments
from graph.runner.plan import copies, plan_deployment
from graph.runner.rendered import load_rendered
from model.errors import ConfigError
from tests.deploy.conftest import ROOT

MANIFEST = ROOT / "graph" / "seldondeployment.yaml"


def _pods(models_dir: Path | None, image: str | None = "img:1") -> list:
    rendered = load_rendered(MANIFEST)
    (deployment,) = load_deployments(MANIFEST, None)
    plans = copies(plan_deployment(deployment, None, rendered[deployment.name]))
    return pod_plans(plans, rendered, models_dir, image, "abc123")


def test_one_pod_per_rendered_deployment_with_the_rendered_ports_env_and_security(
    tmp_path: Path,
) -> None:
    for version in ("v1", "v2"):
        (tmp_path / version).mkdir()
    pods = _pods(tmp_path)
    assert sorted(p.name for p in pods) == sorted(
        f"sg-abc123-digits-{predictor}-{i}-{node}-0"
        for predictor in ("main", "canary")
        for i, node in enumerate(("transformer", "drift-detector", "classifier"))
    )
    for pod in pods:
        (container,) = pod.containers  # the executor container is left out
        assert pod.labels[SERVE_LABEL] == "abc123" and pod.labels[RUNTIME_LABEL] == "containers"
        run = container.run
        assert run.image == "img:1" and run.user == "8888:8888" and run.read_only
        assert run.cap_drop == ("ALL",) and run.no_new_privileges
        env = run.environment
        assert container.ports == (
            int(env["PREDICTIVE_UNIT_HTTP_SERVICE_PORT"]),
            int(env["PREDICTIVE_UNIT_GRPC_SERVICE_PORT"]),
            int(env["PREDICTIVE_UNIT_METRICS_SERVICE_PORT"]),
        )
        assert '"value":"/mnt/models"' in env["PREDICTIVE_UNIT_PARAMETERS"]  # as rendered
        version = "v1" if pod.labels["seldon-graph/predictor"] == "main" else "v2"
        assert container.binds == {"/mnt/models": str((tmp_path / version).resolve())}
        assert set(run.tmpfs) == {"/tmp"} and "size=268435456" in run.tmpfs["/tmp"]
        assert run.mem_limit and run.nano_cpus and env["OMP_NUM_THREADS"] in ("1", "2")


def test_without_a_models_dir_the_model_volume_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--models-dir"):
        _pods(None)


def test_a_volume_the_runtime_cannot_provide_is_refused() -> None:
    pod = {"volumes": [{"name": "conf", "configMap": {"name": "x"}}]}
    container = {"name": "c", "volumeMounts": [{"name": "conf", "mountPath": "/etc/x"}]}
    with pytest.raises(ConfigError, match="volume 'conf'"):
        volumes(pod, container, None)
