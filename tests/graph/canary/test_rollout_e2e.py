"""``seldon-graph canary run`` against a real ``seldon-graph serve`` of the digits graph.

One serve per module on a copy of graph/seldondeployment.yaml: drift windows of 16 so
that a window fills within seconds at 10% canary traffic, p_val 0.002 over 1000
permutations so that a false alarm on clean digits is ~0.2% per window (p_val 0.01 over
100 permutations rolled a healthy canary back for drift about once in ten runs; shifted
digits still give p = 0), and a 60 s node timeout (the shared test machine queues).
Every test starts from main=100 with every node ready, whatever the test before it left.
Background load posts example PNGs from a thread pool. Tests run in order: a healthy
canary is stepped to 100; a canary whose classifier is killed mid-rollout is rolled back
at the next check; a canary receiving shifted digits is rolled back for drift (last: it
leaves the detectors' verdicts at "drift").
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml
from PIL import Image

from graph.canary.target import ManifestTarget
from tests.fixtures.graphs import ROOT, Served, serve_process, wait_ready
from tests.fixtures.processes import VENV_BIN

pytestmark = pytest.mark.slow
INTERVAL = "4s"
COMMON = ["--interval", INTERVAL, "--min-requests", "5", "--max-waits", "3"]


@pytest.fixture(scope="module")
def digits(
    tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path, log_dir: Path
) -> Iterator[Served]:
    path = tmp_path_factory.mktemp("rollout") / "seldondeployment.yaml"
    text = (ROOT / "graph" / "seldondeployment.yaml").read_text()
    text = text.replace('{name: window_size, type: INT, value: "64"}',
                        '{name: window_size, type: INT, value: "16"}')  # fmt: skip
    text = re.sub(r'(?m)^( *- )\{name: p_val, type: FLOAT, value: "0.05"\}$',
                  r'\1{name: p_val, type: FLOAT, value: "0.002"}\n'
                  r'\1{name: n_permutations, type: INT, value: "1000"}', text)  # fmt: skip
    assert text.count("n_permutations") == 2, "both drift detectors get the test's settings"
    # 2 shared cores run 6 torch processes here: a node timeout that tolerates the queueing
    text = text.replace('seldon.io/rest-timeout: "5000"', 'seldon.io/rest-timeout: "60000"')
    path.write_text(text)
    with serve_process(
        path, log_dir, "--models-dir", str(artifacts_dir), "--quiet", ready_timeout=240
    ) as served:
        served.manifest = path  # type: ignore[attr-defined]
        with load(served, examples(artifacts_dir, "clean")) as warmup:  # first calls are slow
            while sum(warmup.values()) < 24:
                time.sleep(0.2)
        yield served


def manifest_of(served: Served) -> Path:
    return served.manifest  # type: ignore[attr-defined]


def traffic(path: Path) -> dict[str, int]:
    doc = yaml.safe_load(path.read_text())
    return {p["name"]: p["traffic"] for p in doc["spec"]["predictors"]}


@contextmanager
def load(served: Served, pngs: list[bytes], workers: int = 4) -> Iterator[Counter[tuple[str, int]]]:
    """Requests from ``workers`` threads until the block ends; counts (predictor, status)."""
    bodies = [{"binData": base64.b64encode(png).decode()} for png in pngs]
    counts: Counter[tuple[str, int]] = Counter()
    stop = threading.Event()
    url = f"{served.url}/seldon/seldon/digits/api/v1.0/predictions"

    def worker(seed: int) -> None:
        i = seed
        with requests.Session() as session:
            while not stop.is_set():
                reply = session.post(url, json=bodies[i % len(bodies)], timeout=30)
                counts[(reply.headers.get("Seldon-Predictor", "?"), reply.status_code)] += 1
                i += workers

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(worker, n) for n in range(workers)]
        try:
            yield counts
        finally:
            stop.set()
            for f in futures:
                f.result(timeout=60)


def rollout(served: Served, audit: Path, *args: str) -> subprocess.Popen[str]:
    cmd = [
        str(VENV_BIN / "seldon-graph"), "canary", "run", str(manifest_of(served)),
        "--metrics-url", f"{served.url}/metrics", "--audit", str(audit), *COMMON, *args,
    ]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise AssertionError(f"canary run did not finish:\n{out}") from None
    print(out)
    return process.returncode, out


def start_at_zero(served: Served) -> None:
    """main=100, and every node up again (a test before may have killed one)."""
    ManifestTarget(manifest_of(served)).rollback()
    wait_ready(served, 180)


def examples(artifacts_dir: Path, kind: str) -> list[bytes]:
    """Every image of the held-out split (``clean``) or its shifted copy, as PNG bytes in a
    seeded order: drift windows must be samples of the distribution, not repeats of a few
    example files (a window of duplicates is rightly flagged by the MMD test)."""
    source = {"clean": "heldout.npz", "shifted": "shifted.npz"}[kind]
    with np.load(artifacts_dir / "examples" / source) as data:
        images = data["images"]
    order = np.random.default_rng(7).permutation(len(images))
    pngs = []
    for i in order:
        out = io.BytesIO()
        Image.fromarray(images[i]).save(out, format="PNG")
        pngs.append(out.getvalue())
    return pngs


def test_a_healthy_canary_is_stepped_to_100(
    digits: Served, artifacts_dir: Path, tmp_path: Path, read_audit: Callable[[Path], list[dict]]
) -> None:
    start_at_zero(digits)
    audit = tmp_path / "audit.jsonl"
    with load(digits, examples(artifacts_dir, "clean")) as counts:
        # a shared 2-core box makes p99 of a few requests noisy: a looser latency ratio
        code, out = finish(rollout(digits, audit, "--steps", "10,50,100", "--latency-ratio", "3"))
    assert code == 0, out
    assert traffic(manifest_of(digits)) == {"main": 0, "canary": 100}
    records = read_audit(audit)
    decisions = [r for r in records if r["event"] == "decision"]
    assert [r["verdict"] for r in decisions if r["verdict"] != "wait"] == [
        "continue", "continue", "complete"
    ]  # fmt: skip
    assert all(r["predictors"]["canary"]["errors"] == 0 for r in decisions)
    assert records[-1]["event"] == "complete"
    assert all(status == 200 for (_, status) in counts), counts
    assert counts[("canary", 200)] > 0


def test_a_canary_that_starts_failing_is_rolled_back_at_the_next_check(
    digits: Served, artifacts_dir: Path, tmp_path: Path, read_audit: Callable[[Path], list[dict]]
) -> None:
    start_at_zero(digits)
    audit = tmp_path / "audit.jsonl"
    victim = digits.nodes()["digits/canary/classifier"]["pid"]
    with load(digits, examples(artifacts_dir, "clean")) as counts:
        process = rollout(digits, audit, "--steps", "10,50,100", "--latency-ratio", "3")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(  # fault once step 2 has started
            r["event"] == "step" and r["step"] == 2 for r in _records(read_audit, audit)
        ):
            time.sleep(0.1)
        killed_at = time.time()
        os.kill(victim, signal.SIGKILL)
        code, out = finish(process)
    assert code == 1, out
    assert traffic(manifest_of(digits)) == {"main": 100, "canary": 0}
    records = read_audit(audit)
    rollback = records[-1]
    assert rollback["event"] == "rollback" and rollback["step"] == 2
    decision = records[-2]
    assert decision["verdict"] == "rollback" and "error rate" in decision["reason"]
    assert decision["predictors"]["canary"]["errors"] > 0
    assert decision["predictors"]["main"]["errors"] == 0
    seconds = dt.datetime.fromisoformat(rollback["ts"]).timestamp() - killed_at
    print(f"time from kill -9 to rollback written: {seconds:.2f} s (interval {INTERVAL})")
    assert counts[("canary", 503)] > 0 and counts[("main", 503)] == counts[("main", 500)] == 0, (
        counts
    )


def test_a_canary_receiving_drifted_data_is_rolled_back(
    digits: Served, artifacts_dir: Path, tmp_path: Path, read_audit: Callable[[Path], list[dict]]
) -> None:
    start_at_zero(digits)
    audit = tmp_path / "audit.jsonl"
    with load(digits, examples(artifacts_dir, "shifted")):
        code, out = finish(rollout(digits, audit, "--steps", "10,50,100", "--latency-ratio", "3"))
    assert code == 1, out
    assert traffic(manifest_of(digits)) == {"main": 100, "canary": 0}
    records = read_audit(audit)
    decision = records[-2]
    assert decision["verdict"] == "rollback" and "drift" in decision["reason"], decision
    assert decision["predictors"]["canary"]["drift"] is True
    assert records[-1]["event"] == "rollback"


def _records(read_audit: Callable[[Path], list[dict]], path: Path) -> list[dict]:
    try:
        return read_audit(path)
    except (FileNotFoundError, ValueError):
        return []
