"""Build the project's image with a real container engine (``make image``).

``python -m scripts.image.build [--tag seldon-graph:0.1.0] [--target runtime]``

Docker where a daemon answers, else Podman (with ``graph/containers/containers.conf``). With
Podman the build mounts the host's local wheel folders (``pip config list``) and its CA
bundle read-only, and takes torch and the CUDA wheels from those folders only. Prints the
build time, the image size and its layers.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from graph.containers.conf import engine_env
from scripts.image.base import base_image, local_wheel_dirs

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TAG = "seldon-graph:0.1.0"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_CA = "/etc/ssl/host-ca.crt"
PRUNE_LABEL = "io.seldon-graph.image=seldon-graph"  # set on every stage by the Dockerfile


def docker_answers() -> bool:
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def choose_engine(wanted: str | None = None) -> str:
    """``docker`` where a daemon answers, else ``podman``."""
    if wanted:
        return wanted
    return "docker" if docker_answers() else "podman"


def dockerfile_arg(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    if not match:
        raise SystemExit(f"Dockerfile has no ARG {name}=...")
    return match.group(1)


def local_torch_wheels(dirs: list[Path]) -> list[str]:
    """The pinned torch, torchvision, triton, NVIDIA and CUDA requirements whose wheel lies
    in ``dirs`` (``name==version``)."""
    pins = re.findall(
        r"^((?:torch|torchvision|triton|nvidia-[\w-]+|cuda-toolkit)==(\S+))$",
        (ROOT / "constraints.txt").read_text(),
        re.M,
    )
    found = []
    for requirement, version in pins:
        wheel = re.sub(r"[-_.]+", "_", requirement.split("==")[0]) + f"-{version}-*.whl"
        if any(next(path.glob(wheel), None) for path in dirs):
            found.append(requirement)
    return found


def local_wheel_args() -> list[str]:
    """Podman build options that mount the local wheels and take torch from them."""
    dirs = local_wheel_dirs()
    args = [arg for path in dirs for arg in ("--volume", f"{path}:{path}:ro")]
    if dirs:
        args += ["--build-arg", "PIP_FIND_LINKS=" + " ".join(str(p) for p in dirs)]
        args += ["--build-arg", "LOCAL_WHEELS=" + " ".join(local_torch_wheels(dirs))]
    if HOST_CA.exists():
        args += ["--volume", f"{HOST_CA}:{BUILD_CA}:ro", "--build-arg", f"PIP_CERT={BUILD_CA}"]
    return args


def build_command(engine: str, tag: str, target: str, base: str) -> list[str]:
    command = [engine, "build", "--network", "host", "--target", target, "--tag", tag]
    command += ["--build-arg", f"PYTHON_IMAGE={base}"]
    if engine == "podman":  # the docker format keeps HEALTHCHECK
        command += ["--format", "docker", "--layers", *local_wheel_args()]
    return [*command, str(ROOT)]


def image_report(engine: str, tag: str) -> dict[str, Any]:
    """Size and layers of ``tag`` as the engine reports them."""
    env = engine_env()
    inspect = subprocess.run(
        [engine, "image", "inspect", tag], capture_output=True, text=True, env=env, check=True
    )
    (info,) = json.loads(inspect.stdout)
    history = subprocess.run(
        [engine, "history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", tag],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    steps = [line.split("\t", 1) for line in history.stdout.splitlines() if line.strip()]
    return {
        "image": tag,
        "size_bytes": int(info["Size"]),
        "layers": len(info["RootFS"]["Layers"]),
        "history": [{"size": size, "created_by": by[:100]} for size, by in steps],
    }


def _image_id(engine: str, tag: str, env: dict[str, str]) -> str | None:
    done = subprocess.run(
        [engine, "image", "inspect", "--format", "{{.Id}}", tag],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def build(tag: str = DEFAULT_TAG, target: str = "runtime", engine: str | None = None) -> float:
    """Build ``tag``; the seconds it took (base image set-up excluded). The image the tag
    named before is removed when nothing else uses it (its layers that the new image
    shares stay; the builder stage's cached layers are separate images and stay too)."""
    chosen = choose_engine(engine)
    env = engine_env()
    base = base_image(chosen, dockerfile_arg("PYTHON_IMAGE"), env)
    command = build_command(chosen, tag, target, base)
    if chosen == "docker":
        env["DOCKER_BUILDKIT"] = "1"
    previous = _image_id(chosen, tag, env)
    # The builder stage is tagged too (its dependency layers are the build cache): the
    # prune below removes untagged stages only, so it keeps the current cache.
    cache = build_command(chosen, builder_tag(tag), "builder", base)
    started = time.monotonic()
    for step in (cache, command):
        print("+", " ".join(step), file=sys.stderr)
        subprocess.run(step, check=True, env=env, cwd=ROOT)
    seconds = time.monotonic() - started
    if previous and previous != _image_id(chosen, tag, env):
        subprocess.run([chosen, "rmi", previous], capture_output=True, env=env, check=False)
    prune_outdated(chosen, env)
    return seconds


def builder_tag(tag: str) -> str:
    """The tag of the builder stage of ``tag``: ``seldon-graph:0.1.0`` ->
    ``seldon-graph-builder:0.1.0``."""
    name, _, version = tag.rpartition(":")
    return f"{name}-builder:{version}" if name and "/" not in version else f"{tag}-builder"


def prune_outdated(engine: str, env: dict[str, str]) -> None:
    """Remove this project's untagged images that no tagged image uses: the stages of
    earlier builds (6-7 GB each when the dependencies changed; the current builder stage
    is tagged, see ``builder_tag``). The Dockerfile labels every stage ``PRUNE_LABEL``;
    other images on the machine are left alone."""
    subprocess.run(
        [engine, "image", "prune", "--force", "--filter", f"label={PRUNE_LABEL}"],
        capture_output=True, env=env, check=False,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default=DEFAULT_TAG)
    parser.add_argument("--target", default="runtime", choices=["runtime", "demo"])
    parser.add_argument("--engine", choices=["docker", "podman"])
    parser.add_argument("--report", type=Path, help="write size, layers and time as JSON")
    args = parser.parse_args(argv)
    seconds = build(args.tag, args.target, args.engine)
    report = {**image_report(choose_engine(args.engine), args.tag), "build_s": round(seconds, 1)}
    print(
        f"built {args.tag} in {seconds:.0f} s: {report['size_bytes'] / 1e9:.2f} GB, "
        f"{report['layers']} layers"
    )
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
