"""Soak the served digits graph over REST: zero errors, bounded memory growth.

``python -m tests.hardening.soak --minutes 5`` starts ``seldon-graph serve
graph/seldondeployment.yaml`` (or uses ``--url`` and ``--run-dir`` of a running one),
measures throughput for a few seconds at 4, 8 and 16 concurrent clients, then sends PNG
digits at the concurrency where throughput peaked for the given time. Memory is the sum
of the resident set sizes of the gateway and every node process and their children
(pids from the runner's ``nodes.json``, children from ``/proc``), sampled every
``--sample-s`` seconds; growth is measured from the end of the warm-up (a fifth of the
run) to the end. Prints a JSON summary; exits 1 if any request failed or memory grew by
more than ``--max-growth`` (5 %).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
PAGE = 4096


# ------------------------------------------------------------------ memory via /proc
def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def process_tree(roots: Sequence[int]) -> set[int]:
    """The roots and all their descendants that are alive."""
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen or not Path(f"/proc/{pid}").exists():
            continue
        seen.add(pid)
        todo += _children(pid)
    return seen


def rss_bytes(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return total


def graph_roots(gateway_pid: int, run_dir: Path) -> list[int]:
    nodes = json.loads((run_dir / "nodes.json").read_text())
    return [gateway_pid, *(int(n["pid"]) for n in nodes.values())]


# ------------------------------------------------------------------ load
@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != "200")


def drive(
    url: str, body: bytes, concurrency: int, seconds: float, on_tick: Any = None
) -> LoadResult:
    """``concurrency`` clients posting ``body`` back to back for ``seconds``."""
    result = LoadResult(concurrency, seconds)
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    reply = session.post(
                        url, data=body, headers={"Content-Type": "application/json"}, timeout=60
                    )
                    status = str(reply.status_code)
                    error = "" if reply.status_code == 200 else reply.text[:300]
                except requests.RequestException as exc:
                    status, error = "exception", f"{type(exc).__name__}: {exc}"
                with lock:
                    result.requests += 1
                    result.statuses[status] += 1
                    if error and len(result.errors) < 10:
                        result.errors.append(error)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    while (left := start + seconds - time.monotonic()) > 0:
        time.sleep(min(left, 1.0))
        if on_tick is not None:
            on_tick(time.monotonic() - start)
    stop.set()
    for t in threads:
        t.join(90)
    result.seconds = time.monotonic() - start
    return result


def png_body(artifacts: Path) -> bytes:
    index = json.loads((artifacts / "examples" / "index.json").read_text())
    png = (artifacts / "examples" / index["clean"][0]["file"]).read_bytes()
    return json.dumps({"binData": base64.b64encode(png).decode()}).encode()


@dataclass
class SoakSummary:
    concurrency: int
    probe_throughput: dict[int, float]
    seconds: float
    requests: int
    throughput_rps: float
    statuses: dict[str, int]
    errors: list[str]
    rss_warm_mb: float
    rss_end_mb: float
    rss_max_mb: float
    rss_growth_pct: float
    processes: int
    passed: bool


def soak(
    url: str,
    gateway_pid: int,
    run_dir: Path,
    body: bytes,
    seconds: float,
    concurrency: int | None = None,
    probe_s: float = 8.0,
    sample_s: float = 2.0,
    max_growth: float = 0.05,
) -> SoakSummary:
    """Probe the concurrency (unless given), soak, and summarise."""
    probes: dict[int, float] = {}
    if concurrency is None:
        for c in (4, 8, 16):
            probes[c] = round(drive(url, body, c, probe_s).throughput, 1)
        concurrency = max(probes, key=lambda c: probes[c])
    warm_at = seconds / 5
    samples: list[tuple[float, int, int]] = []  # (t, rss, processes)
    next_sample = [0.0]

    def tick(t: float) -> None:
        if t >= next_sample[0]:
            pids = process_tree(graph_roots(gateway_pid, run_dir))
            samples.append((t, rss_bytes(pids), len(pids)))
            next_sample[0] = t + sample_s

    result = drive(url, body, concurrency, seconds, tick)
    after = [s for s in samples if s[0] >= warm_at] or samples
    warm = after[0][1]
    end = sum(s[1] for s in after[-3:]) / len(after[-3:])  # last few samples: less noise
    growth = (end - warm) / warm if warm else 0.0
    mb = 2**20
    return SoakSummary(
        concurrency=concurrency,
        probe_throughput=probes,
        seconds=round(result.seconds, 1),
        requests=result.requests,
        throughput_rps=round(result.throughput, 1),
        statuses=dict(result.statuses),
        errors=result.errors,
        rss_warm_mb=round(warm / mb, 1),
        rss_end_mb=round(end / mb, 1),
        rss_max_mb=round(max(s[1] for s in samples) / mb, 1),
        rss_growth_pct=round(100 * growth, 2),
        processes=after[-1][2],
        passed=result.failed == 0 and growth < max_growth,
    )


# ------------------------------------------------------------------ command line
@contextlib.contextmanager
def _served(artifacts: Path) -> Iterator[tuple[str, int, Path]]:
    from tests.fixtures.graphs import serve_process

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        manifest = ROOT / "graph" / "seldondeployment.yaml"
        with serve_process(
            manifest, Path(tmp), "--models-dir", str(artifacts), ready_timeout=300
        ) as served:
            yield served.url, served.process.pid, served.run_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hardening.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0, help="soak duration (5)")
    parser.add_argument("--concurrency", type=int, help="clients (default: probe 4/8/16)")
    parser.add_argument("--url", help="gateway base URL of a running graph (default: start one)")
    parser.add_argument("--gateway-pid", type=int, help="with --url: the serve process id")
    parser.add_argument("--run-dir", type=Path, help="with --url: the runner's --run-dir")
    parser.add_argument("--artifacts", type=Path, default=ROOT / "artifacts")
    parser.add_argument("--max-growth", type=float, default=0.05, help="RSS growth limit (0.05)")
    parser.add_argument("--sample-s", type=float, default=2.0, help="RSS sampling period (2)")
    args = parser.parse_args(argv)
    body = png_body(args.artifacts)
    seconds = args.minutes * 60

    def run(url: str, pid: int, run_dir: Path) -> SoakSummary:
        return soak(
            f"{url}/api/v1.0/predictions", pid, run_dir, body, seconds, args.concurrency,
            sample_s=args.sample_s, max_growth=args.max_growth,
        )  # fmt: skip

    if args.url:
        if args.gateway_pid is None or args.run_dir is None:
            parser.error("--url needs --gateway-pid and --run-dir")
        summary = run(args.url.rstrip("/"), args.gateway_pid, args.run_dir)
    else:
        with _served(args.artifacts) as (url, pid, run_dir):
            summary = run(url, pid, run_dir)
    print(json.dumps(asdict(summary), indent=2))
    return 0 if summary.passed else 1


if __name__ == "__main__":
    sys.exit(main())
