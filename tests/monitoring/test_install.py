"""scripts/install_monitoring_tools.sh: apt-get only when a binary is missing, the
packaged services disabled, nothing left listening on Prometheus' or Alertmanager's
default ports."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from graph.runner.ports import port_accepts
from tests.monitoring.conftest import INSTALL_SCRIPT, ROOT, PromTools

SHIM = '#!/bin/sh\necho "$(basename "$0") $*" >> "{log}"\nexit {rc}\n'


def _shims(tmp_path: Path, **exit_codes: int) -> tuple[Path, Path]:
    """A bin dir whose commands only log their arguments (and exit with the given code)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    log.touch()
    for name, rc in exit_codes.items():
        shim = bin_dir / name.replace("_", "-")
        shim.write_text(SHIM.format(log=log, rc=rc))
        shim.chmod(0o755)
    return bin_dir, log


def _run(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["sh", str(INSTALL_SCRIPT)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


def test_rerun_with_the_binaries_present_installs_nothing_and_disables_the_services(
    prom_tools: PromTools, tmp_path: Path
) -> None:
    bin_dir, log = _shims(tmp_path, apt_get=1, systemctl=0, service=1)
    done = _run(bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "prometheus, version 2.42" in done.stdout
    assert "alertmanager, version 0.25" in done.stdout
    calls = log.read_text().splitlines()
    assert not [call for call in calls if call.startswith("apt-get")]
    assert "systemctl disable --quiet prometheus" in calls
    assert "systemctl disable --quiet prometheus-alertmanager" in calls
    assert not port_accepts(9090) and not port_accepts(9093)


def test_a_missing_binary_runs_apt_get_and_its_failure_is_reported(tmp_path: Path) -> None:
    # A PATH where promtool and friends are absent: the script must ask apt-get.
    if os.geteuid() != 0:
        pytest.skip("the script runs apt-get directly only as root (CI); sudo otherwise")
    bin_dir, log = _shims(tmp_path, apt_get=100, systemctl=0, service=1)
    for tool in ("sh", "id", "cat", "head", "rm", "chmod", "tee", "printf", "basename"):
        path = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True)
        if path.stdout.strip().startswith("/"):
            (bin_dir / tool).symlink_to(path.stdout.strip())
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(bin_dir / "sh"), str(INSTALL_SCRIPT)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 100, done.stdout + done.stderr
    assert "missing: prometheus promtool prometheus-alertmanager amtool" in done.stdout
    assert log.read_text().splitlines()[0] == "apt-get update -q"
