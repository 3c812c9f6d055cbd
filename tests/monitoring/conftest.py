"""The Debian Prometheus tools (promtool, amtool, prometheus, alertmanager) for the
monitoring tests, installed by the project's script when missing (``make test`` does it
first through ``make monitoring-tools``)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.monitoring.servers import ExecutorMetrics, SeldonNodeMetrics

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
INSTALL_SCRIPT = ROOT / "scripts" / "install_monitoring_tools.sh"
BINARIES = ("prometheus", "promtool", "prometheus-alertmanager", "amtool")


@dataclass(frozen=True)
class PromTools:
    promtool: str
    amtool: str

    def promtool_run(self, *args: str, cwd: Path = HERE) -> subprocess.CompletedProcess[str]:
        """``promtool ARGS`` (never raises on failure: the caller checks returncode)."""
        return subprocess.run(
            [self.promtool, *args], capture_output=True, text=True, cwd=cwd, timeout=120
        )


@pytest.fixture(scope="session")
def prom_tools() -> PromTools:
    if not all(shutil.which(name) for name in BINARIES):
        subprocess.run(["sh", str(INSTALL_SCRIPT)], check=True, cwd=ROOT)
    promtool, amtool = shutil.which("promtool"), shutil.which("amtool")
    assert promtool and amtool
    return PromTools(promtool, amtool)


@pytest.fixture
def metric_endpoints() -> Iterator[tuple[ExecutorMetrics, SeldonNodeMetrics]]:
    """The executor's and the canary drift node's metrics endpoints of ``digits``, closed
    after the test."""
    executor, drift = ExecutorMetrics("digits"), SeldonNodeMetrics("digits", "canary")
    try:
        yield executor, drift
    finally:
        executor.close()
        drift.close()
