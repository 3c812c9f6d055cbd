"""ServerPool.focus: the servers not being measured are paused, with their children, and
resumed before they are measured or stopped."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from benchmarks import procs
from benchmarks.servers import Server, ServerPool, _descendants

# A "server" that spawns a child in a session of its own (as the graph runner's nodes and
# Ray's daemons are), then both count up in files, so a test can tell which ones run.
SCRIPT = """
import os, subprocess, sys, time
out = sys.argv[1]
if len(sys.argv) == 2:
    subprocess.Popen([sys.executable, __file__, out + ".child", "child"], start_new_session=True)
n = 0
while True:
    n += 1
    with open(out + ".tmp", "w") as f:
        f.write(str(n))
    os.replace(out + ".tmp", out)
    time.sleep(0.02)
"""


def _counts(path: Path) -> int:
    for _ in range(50):
        try:
            return int(path.read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    raise AssertionError(f"{path} never written")


def _advances(path: Path) -> bool:
    before = _counts(path)
    time.sleep(0.3)
    return _counts(path) > before


def _server(name: str, tmp_path: Path) -> Server:
    script = tmp_path / "count.py"
    script.write_text(SCRIPT)
    out = tmp_path / name
    probe = lambda: out.is_file() and (tmp_path / f"{name}.child").is_file()  # noqa: E731
    return Server(name, [sys.executable, str(script), str(out)], 0, probes=[probe])


def test_focus_pauses_the_others_with_their_children_and_stop_resumes_them(
    tmp_path: Path,
) -> None:
    a, b = _server("a", tmp_path), _server("b", tmp_path)
    with ServerPool([a, b], ready_timeout_s=30, log=lambda _: None) as pool:
        assert a.process is not None and b.process is not None
        b_tree = [b.process.pid] + [pid for pid, _ in _descendants(b.process.pid)]
        assert len(b_tree) == 2
        pool.focus("a")
        time.sleep(0.1)
        assert {procs.state(pid) for pid in b_tree} == {"T"}
        assert not _advances(tmp_path / "b") and not _advances(tmp_path / "b.child")
        assert _advances(tmp_path / "a") and _advances(tmp_path / "a.child")

        pool.focus("b")  # b resumes, a (and its session-less child) pause
        assert _advances(tmp_path / "b") and _advances(tmp_path / "b.child")
        assert not _advances(tmp_path / "a.child")

        pool.focus(None)  # the in-process case: every server paused
        assert not _advances(tmp_path / "b") and not _advances(tmp_path / "a")
        a_tree = [a.process.pid] + [pid for pid, _ in _descendants(a.process.pid)]
    # Stopped although paused: SIGTERM reached them once resumed, children killed too.
    for pid in a_tree + b_tree:
        assert procs.state(pid) in (None, "Z")
