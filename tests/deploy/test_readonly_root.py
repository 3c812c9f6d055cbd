"""A component under the pod's read-only root filesystem, with and without the /tmp volume.

The chart (and the manifest) set ``readOnlyRootFilesystem: true`` and mount an emptyDir at
``/tmp``. This replays that here: the component runs in a private mount namespace where
the code, the virtualenv, the models and every temporary directory are mounted read-only,
and, as the pod's emptyDir, a fresh tmpfs covers /tmp. Needs root (mount namespaces).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
import requests

from tests.deploy.conftest import ROOT, base_env, shell_component

READ_ONLY = ["/work", "/root", "/home", "/opt", "/usr", "/etc", "/var/tmp", "/tmp"]
COMMAND = "exec seldon-core-microservice $MODEL_NAME --service-type $SERVICE_TYPE"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root"),
]


def _sandboxed(command: str, tmp_volume: bool) -> str:
    """``command`` run by ``unshare -m`` after making the filesystem read-only."""
    steps = ["mount --make-rprivate /"]
    # the checkout and the virtualenv too, wherever the clone lives: Python's tempfile
    # falls back to the working directory when /tmp and /var/tmp are not writable
    for path in dict.fromkeys([*READ_ONLY, str(ROOT), sys.prefix]):
        if Path(path).is_dir():
            steps.append(f"mount --bind {path} {path} && mount -o remount,bind,ro {path}")
    if tmp_volume:
        # the emptyDir hides whatever was under /tmp: a checkout there (a CI clone) is
        # bound back, read-only, at its own path on top of the fresh tmpfs
        under_tmp = {p for p in (ROOT, Path(sys.prefix)) if p.is_relative_to("/tmp")}
        kept = sorted(str(p) for p in under_tmp if not any(q in p.parents for q in under_tmp))
        if kept:
            steps.append("stage=$(mktemp -d -p /dev/shm) && mount --bind /tmp $stage")
        steps.append("mount -t tmpfs -o size=256m,mode=1777 tmpfs /tmp")
        for path in kept:
            rel = shlex.quote(str(Path(path).relative_to("/tmp")))
            steps.append(f"mkdir -p {path} && mount --bind $stage/{rel} {path}")
    steps.append(command)
    return f"exec unshare -m sh -ec {shlex.quote(' && '.join(steps))}"


def _env() -> dict[str, str]:
    return {
        **base_env(),
        "HOME": "/nonexistent",  # the image's user has no writable home
        "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "MODEL_NAME": "model.transformer.ImageTransformer",
        "SERVICE_TYPE": "TRANSFORMER",
    }


def test_component_serves_with_a_read_only_root_and_a_tmp_volume(
    artifacts_dir: Path, tmp_path: Path
) -> None:
    with shell_component(
        _sandboxed(COMMAND, tmp_volume=True),
        _env(),
        model_uri=artifacts_dir / "v1",
        cwd=ROOT,
        log_path=tmp_path / "ro.log",
    ) as started:
        assert requests.get(f"{started.url}/health/status", timeout=30).status_code == 200


def test_component_fails_with_a_read_only_root_and_no_tmp_volume(
    artifacts_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "ro-no-tmp.log"
    with (
        pytest.raises(RuntimeError, match="exited"),
        shell_component(
            _sandboxed(COMMAND, tmp_volume=False),
            _env(),
            model_uri=artifacts_dir / "v1",
            cwd=ROOT,
            log_path=log,
            ready_timeout=120,
        ),
    ):
        pass
    assert "No usable temporary directory found" in log.read_text(errors="replace")
