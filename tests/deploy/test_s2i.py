"""The s2i environment files: each names an importable component, agrees with the
manifest, and starts with the command Seldon's s2i run script uses."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from tests.deploy.conftest import (
    COMPONENTS,
    ROOT,
    S2I_DIR,
    base_env,
    read_env_file,
    shell_component,
)

# What seldon-core-s2i-python's run script (v1.17.1) executes; --persistence only when
# PERSISTENCE is set, which its assemble script requires.
S2I_RUN = (
    "exec seldon-core-microservice $MODEL_NAME --service-type $SERVICE_TYPE"
    " --persistence $PERSISTENCE"
)
SERVICE_TYPES = {"MODEL", "TRANSFORMER", "OUTPUT_TRANSFORMER", "ROUTER", "COMBINER"}


def _env_file(component: str) -> Path:
    return S2I_DIR / f"{component}.env"


def _manifest_env(component: str) -> dict[str, str]:
    """The plain-valued container env of ``component`` in the main predictor of the
    manifest (``valueFrom`` entries, such as OMP_NUM_THREADS from the CPU limit, come
    from the pod, not the image)."""
    manifest = yaml.safe_load((ROOT / "graph" / "seldondeployment.yaml").read_text())
    components = manifest["spec"]["predictors"][0]["componentSpecs"]
    containers = [c for component in components for c in component["spec"]["containers"]]
    (container,) = [c for c in containers if c["name"] == component]
    return {item["name"]: item["value"] for item in container["env"] if "value" in item}


def test_there_is_one_env_file_per_component() -> None:
    assert sorted(p.stem for p in S2I_DIR.glob("*.env")) == sorted(COMPONENTS)


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_env_file_names_an_importable_component_class(component: str) -> None:
    env = read_env_file(_env_file(component))
    assert (env["MODEL_NAME"], env["SERVICE_TYPE"]) == COMPONENTS[component]
    assert env["SERVICE_TYPE"] in SERVICE_TYPES
    assert env["PERSISTENCE"] == "0", "the s2i assemble script fails without PERSISTENCE"
    module_name, class_name = env["MODEL_NAME"].rsplit(".", 1)
    component_class = getattr(importlib.import_module(module_name), class_name)
    assert isinstance(component_class, type)
    assert hasattr(component_class, "load"), "heavy state belongs in load()"


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_env_file_agrees_with_the_manifest_container(component: str) -> None:
    env = read_env_file(_env_file(component))
    manifest_env = _manifest_env(component)
    for key, value in manifest_env.items():
        assert env.get(key) == value, f"{component}: {key} differs from the manifest"


@pytest.mark.slow
@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_s2i_run_command_starts_the_component(
    artifacts_dir: Path, tmp_path: Path, component: str
) -> None:
    venv_bin = Path(sys.prefix) / "bin"  # the s2i image's Python environment
    env = {
        **base_env(),
        **read_env_file(_env_file(component)),
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
    }
    # s2i copies the sources to /microservice and runs from there: the checkout here.
    with shell_component(
        S2I_RUN,
        env,
        model_uri=artifacts_dir / "v1",
        cwd=ROOT,
        log_path=tmp_path / f"{component}.log",
    ) as started:
        reply = requests.get(f"{started.url}/health/status", timeout=30)
        assert reply.status_code == 200, reply.text
        log = started.log_path.read_text(errors="replace")
        module, cls = env["MODEL_NAME"].rsplit(".", 1)
        assert f"Importing submodule ['{module}', '{cls}']" in log, log[-2000:]
        threads = env["GUNICORN_THREADS"]
        assert f"'threads': {threads}" in log, "GUNICORN_THREADS from the env file not applied"


def test_requirements_file_installs_the_project_with_the_pinned_set() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines == ["-c constraints.txt", "."]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-r",
            "requirements.txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Would install seldon-graph-0.1.0" in done.stdout
