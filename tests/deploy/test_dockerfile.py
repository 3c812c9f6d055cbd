"""The Dockerfile, read as written, and its command run from a clean install of the wheel.

Fast checks without a container engine (tests/deploy/test_image.py builds and runs the
real image): the instructions are parsed and checked (base, stages, user, ports,
command, build context), and the builder's steps are replayed on this machine: a wheel
is built from exactly the files the builder stage copies and installed with ``--no-deps``
into a fresh virtualenv; the final stage's command line then starts each
component through ``sh -c`` with the final stage's environment. Shortcut, to stay fast:
the fresh virtualenv gets its third-party dependencies from the development virtualenv's
site-packages through a ``.pth`` line (not processed as a site directory, so the
development checkout's editable install of this project is not visible), instead of
reinstalling torch from constraints.txt.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import requests

from tests.deploy.conftest import (
    COMPONENTS,
    DOCKERFILE,
    ROOT,
    Stage,
    base_env,
    parse_dockerfile,
    parse_env_instructions,
    shell_component,
    stage_chain,
)

ARGS, STAGES = parse_dockerfile(DOCKERFILE.read_text())
RUNTIME = stage_chain(STAGES)  # the default target
DEMO = stage_chain(STAGES, "demo")
BUILDER = stage_chain(STAGES, "builder")
EXPECTED_CMD = "exec seldon-core-microservice $MODEL_NAME --service-type $SERVICE_TYPE"


def _last(chain: list[Stage], keyword: str) -> str:
    values = [value for stage in chain for value in stage.all(keyword)]
    assert values, f"no {keyword} in stages {[s.name for s in chain]}"
    return values[-1]


def _copies(chain: list[Stage]) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context."""
    out = []
    for stage in chain:
        for args in stage.all("COPY"):
            parts = [p for p in args.split() if not p.startswith("--chown")]
            if any(p.startswith("--from=") for p in parts):
                continue
            out.append((parts[:-1], parts[-1]))
    return out


def _dockerignore_allows(path: str) -> bool:
    """Docker's rule for .dockerignore: the last matching pattern decides."""
    allowed = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/").removeprefix("**/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes) or any(
            fnmatch.fnmatch(part, pattern) for part in parts
        ):
            allowed = negate
    return allowed


def test_every_stage_builds_on_python_3_11_slim_bookworm() -> None:
    # the Debian release pinned: the locally made base (scripts/image/base.py) and the
    # tini package pin are bookworm's
    assert ARGS["PYTHON_IMAGE"] == "python:3.11-slim-bookworm"
    names = {stage.name for stage in STAGES}
    for stage in STAGES:
        assert stage.base == "${PYTHON_IMAGE}" or stage.base in names, stage.base


def test_builder_installs_from_the_constraints_and_the_runtime_copies_its_venv() -> None:
    pip_installs = [cmd for stage in BUILDER for run in stage.all("RUN") for cmd in run.split("&&")]
    pip_installs = [cmd.strip() for cmd in pip_installs if "pip install" in cmd]
    assert len(pip_installs) >= 2
    for cmd in pip_installs:
        assert "-c constraints.txt" in cmd, cmd
    assert "--from=builder /opt/venv /opt/venv" in [
        args for stage in RUNTIME for args in stage.all("COPY")
    ]


def test_the_image_runs_as_uid_8888_exposes_seldon_ports_and_execs_the_wrapper() -> None:
    assert _last(RUNTIME, "USER") == "8888"
    assert _last(RUNTIME, "EXPOSE").split() == ["9000", "5000", "6000"]
    cmd = _last(RUNTIME, "CMD")
    assert not cmd.startswith("["), "CMD must be the shell form so $MODEL_NAME expands"
    assert cmd == EXPECTED_CMD
    assert _last(RUNTIME, "ENTRYPOINT") == '["tini", "-g", "--"]'
    env = parse_env_instructions([v for stage in RUNTIME for v in stage.all("ENV")])
    assert env["MODEL_NAME"] == "model.predictor.TorchPredictor"
    assert env["SERVICE_TYPE"] == "MODEL"


def test_only_the_demo_target_bakes_the_default_artifacts() -> None:
    assert not [src for srcs, _ in _copies(RUNTIME) for src in srcs if "artifacts" in src]
    assert (["artifacts/v1"], "/mnt/models") in _copies(DEMO)
    assert _last(DEMO, "CMD") == EXPECTED_CMD


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    for sources, _ in _copies(BUILDER) + _copies(RUNTIME):
        for source in sources:
            assert (ROOT / source).exists(), source
            assert _dockerignore_allows(source), f"{source} is excluded by .dockerignore"
    for excluded in (".venv", ".git", "tests", "artifacts/v2", "model/__pycache__"):
        assert not _dockerignore_allows(excluded), f"{excluded} reaches the build context"


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.prefix) / "bin" / "hadolint"
    assert hadolint.exists(), "hadolint missing: pip install -c constraints.txt -e '.[dev]'"
    done = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the project wheel built as the builder stage builds it."""
    work = tmp_path_factory.mktemp("image")
    context = work / "context"
    context.mkdir()
    for sources, _ in _copies(BUILDER):
        for source in sources:
            src = ROOT / source
            if src.is_dir():
                shutil.copytree(src, context / source, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, context / source)
    wheels = work / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."],
        cwd=context,
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("seldon_graph-*.whl")
    venv = work / "opt-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependency shortcut (see the module docstring).
    dev_site = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "_dev_venv_dependencies.pth").write_text(dev_site + "\n")
    # seldon-core's console script, written from its entry point as pip writes it.
    (entry,) = [
        ep
        for ep in importlib.metadata.distribution("seldon-core").entry_points
        if ep.name == "seldon-core-microservice"
    ]
    script = venv / "bin" / "seldon-core-microservice"
    script.write_text(
        f"#!{python}\nimport sys\nfrom {entry.module} import {entry.attr}\n"
        f"sys.exit({entry.attr}())\n"
    )
    script.chmod(0o755)
    return venv


@pytest.mark.slow
def test_the_wheel_install_is_what_the_command_imports(image_venv: Path) -> None:
    assert (image_venv / "bin" / "seldon-graph").exists()
    done = subprocess.run(
        [str(image_venv / "bin" / "python"), "-c", "import model, graph; print(model.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=image_venv,
    )
    assert done.stdout.strip().startswith(str(image_venv)), done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_the_image_command_starts_each_component(
    image_venv: Path, artifacts_dir: Path, tmp_path: Path, component: str
) -> None:
    env = base_env()
    for key, value in parse_env_instructions(
        [v for stage in RUNTIME for v in stage.all("ENV")]
    ).items():
        value = value.replace("/opt/venv", str(image_venv))
        env[key] = value.replace("$PATH", "/usr/local/bin:/usr/bin:/bin")
    class_name, service_type = COMPONENTS[component]
    if component != "classifier":  # the classifier runs on the image's defaults
        env.update(MODEL_NAME=class_name, SERVICE_TYPE=service_type)
    app = tmp_path / "app"  # WORKDIR /app: empty
    app.mkdir()
    with shell_component(
        _last(RUNTIME, "CMD"),
        env,
        model_uri=artifacts_dir / "v1",
        cwd=app,
        log_path=tmp_path / f"{component}.log",
    ) as started:
        reply = requests.get(f"{started.url}/health/status", timeout=30)
        assert reply.status_code == 200, reply.text
        module, cls = class_name.rsplit(".", 1)
        log = started.log_path.read_text(errors="replace")
        assert f"Importing submodule ['{module}', '{cls}']" in log, log[-2000:]


@pytest.mark.parametrize("chain", [RUNTIME, DEMO, BUILDER], ids=["runtime", "demo", "builder"])
def test_every_target_carries_the_label_the_build_prunes_by(chain: list[Stage]) -> None:
    """``make image`` prunes untagged images by this label only (scripts/image/build.py)."""
    from scripts.image.build import PRUNE_LABEL

    assert _last(chain, "LABEL") == PRUNE_LABEL


def test_torch_is_installed_before_setup_cfg_is_copied() -> None:
    """An edit of setup.cfg must not reinstall torch (a 6 GB layer)."""
    steps = [(k, v) for k, v in BUILDER[-1].instructions if k in ("COPY", "RUN")]
    torch_step = next(i for i, (k, v) in enumerate(steps) if k == "RUN" and "torch.txt" in v)
    setup_copy = next(i for i, (k, v) in enumerate(steps) if k == "COPY" and "setup.cfg" in v)
    assert torch_step < setup_copy


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("seldon-graph:0.1.0", "seldon-graph-builder:0.1.0"),
        ("localhost:5000/team/seldon-graph:1", "localhost:5000/team/seldon-graph-builder:1"),
        ("localhost:5000/seldon-graph", "localhost:5000/seldon-graph-builder"),
    ],
)
def test_the_builder_stage_is_tagged_beside_the_image_so_the_prune_keeps_it(
    tag: str, expected: str
) -> None:
    from scripts.image.build import builder_tag

    assert builder_tag(tag) == expected
