"""Every mode of ``seldon-graph serve`` stops every process it started on SIGTERM."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fixtures.graphs import marked_pids, serve_process, stop_serve


def left_after(marker: str, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := marked_pids(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.parametrize("mode", [(), ("--in-process",)], ids=["processes", "in-process"])
def test_sigterm_leaves_no_process_of_the_run(
    toy_manifest: Path, log_dir: Path, mode: tuple[str, ...]
) -> None:
    """In-process, seldon-core's SeldonMetrics forks a multiprocessing manager; it must
    not inherit the gateway's SIGTERM handling and live on as an orphan."""
    with serve_process(toy_manifest, log_dir, *mode) as served:
        assert len(marked_pids(served.marker)) >= 2 or mode == ()  # the manager is up
        assert stop_serve(served) == 0, served.log()[-3000:]
        assert left_after(served.marker) == [], served.log()[-3000:]


def test_in_process_children_die_with_a_killed_gateway(toy_manifest: Path, log_dir: Path) -> None:
    """The metrics manager forked in the gateway gets SIGTERM when the gateway dies
    (PR_SET_PDEATHSIG) and takes the default action on it: no orphan after SIGKILL,
    when none of the gateway's own clean-up runs."""
    with serve_process(toy_manifest, log_dir, "--in-process") as served:
        children = [p for p in marked_pids(served.marker) if p != served.process.pid]
        assert children, "no forked child to watch"
        served.process.kill()
        served.process.wait(10)
        assert left_after(served.marker) == []
