"""The GPU check where it can run on a CPU: arguments, the no-GPU exit, the fork verdict
on real process trees, and the report from measured numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import gpu_check, gpu_report

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_batches_are_parsed() -> None:
    args = gpu_check.parse_args([])
    assert args.batches == (1, 8, 32) and args.device == "cuda" and args.amp == "auto"
    assert args.out == ROOT / "benchmarks" / "results" / "gpu.md"
    assert gpu_check.parse_args(["--batches", "32,1,8,8", "--device", "cuda:1"]).batches == (
        1, 8, 32)  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [["--batches", "0,8"], ["--batches", "a"], ["--device", "cpu"], ["--amp", "fp32"],
     ["--duration", "0"]],
)  # fmt: skip
def test_bad_arguments_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        gpu_check.parse_args(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_without_a_gpu_it_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "gpu.md"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == gpu_check.NO_GPU, done.stderr
    assert "no usable NVIDIA GPU here" in done.stderr and "Nothing measured" in done.stderr
    assert list(tmp_path.iterdir()) == []


def _forking_child() -> subprocess.Popen[bytes]:
    """A real parent that forks a worker which sleeps (neither touches CUDA)."""
    code = "import os, time\nif os.fork() == 0:\n    time.sleep(60)\nelse:\n    time.sleep(60)\n"
    return subprocess.Popen([sys.executable, "-c", code])


def test_fork_verdict_reads_real_processes_and_fails_without_a_gpu() -> None:
    child = _forking_child()
    try:
        deadline = time.monotonic() + 10
        procs: list[gpu_report.Proc] = []
        while time.monotonic() < deadline and len(procs) < 2:
            procs = gpu_check.fork_evidence(child.pid, compute=set())
            time.sleep(0.1)
        assert [p["role"] for p in procs] == ["master", "worker"]
        assert procs[1]["ppid"] == child.pid
        assert not any(gpu_report.touched(p) for p in procs)  # no CUDA on this machine
        verdict = gpu_report.fork_verdict(procs, "cpu", reinit_error=False)
        assert verdict.startswith("FAIL: no worker holds a GPU device open")
    finally:
        for p in gpu_check.procs.tree(child.pid)[::-1]:  # the worker, then the parent
            os.kill(p.pid, signal.SIGKILL)
        child.wait(timeout=10)


def _procs(master: dict[str, object], worker: dict[str, object]) -> list[gpu_report.Proc]:
    base = {"cmdline": "x", "driver_mapped": False, "gpu_files": [], "compute_app": False}
    return gpu_report.roles([{**base, "pid": 10, "ppid": 1, **master},
                             {**base, "pid": 11, "ppid": 10, **worker}])  # fmt: skip


def test_fork_verdict_rules() -> None:
    gpu = {"driver_mapped": True, "gpu_files": ["/dev/nvidia0"]}
    assert gpu_report.fork_verdict(_procs({}, gpu), "cuda:0", False) == "PASS"
    early = gpu_report.fork_verdict(_procs({"driver_mapped": True}, gpu), "cuda:0", False)
    assert early == "FAIL: CUDA touched before the fork, in master 10"
    assert "not cuda" in gpu_report.fork_verdict(_procs({}, gpu), "cpu", False)
    assert "re-initialize" in gpu_report.fork_verdict(_procs({}, gpu), "cuda:0", True)


def test_report_shows_the_measured_numbers(tmp_path: Path) -> None:
    gpu = {"driver_mapped": True, "gpu_files": ["/dev/nvidia0"]}
    doc = {
        "machine": {"gpu": "NVIDIA H100 80GB HBM3", "driver": "550.1", "cuda": "13.0",
                    "cpu": "EPYC", "cores": 16, "python": "3.11.7", "torch": "2.14.1",
                    "seldon_core": "1.17.1", "date": "2026-12-06", "git_commit": "abc"},
        "config": {"duration_s": 3.0, "warmup_s": 1.0, "server": "batching"},
        "fork_check": [{"server": "gpu-amp-off", "health_device": "cuda:0",
                        "health_amp": "off", "processes": _procs({}, gpu), "verdict": "PASS"}],
        "raw": [{"amp": "bfloat16", "batch": 32, "images_per_s": 41234.5, "p50_ms": 0.771,
                 "p99_ms": 0.9}],
        "served": [{"amp": "off", "transport": "grpc", "clients": 8, "throughput_rps": 1523.4,
                    "p50_ms": 5.1, "p99_ms": 9.9, "errors": 0, "mean_batch_size": 6.5}],
        "skipped": ["REST (wrk is not installed here; gRPC only)"], "wall_s": 123.4,
    }  # fmt: skip
    out = tmp_path / "results" / "gpu.md"
    gpu_check.write(doc, out)
    text = out.read_text()
    assert "NVIDIA H100 80GB HBM3" in text and "**PASS**" in text
    assert "| bfloat16 | 32 | 41234.5 | 0.771 | 0.900 |" in text
    assert "| off | grpc | 8 | 1523.4 | 5.10 | 9.90 | 6.50 | 0 |" in text
    assert "| 11 | worker | yes | /dev/nvidia0 | no |" in text
    assert "Not measured: REST (wrk is not installed here" in text
    assert json.loads(out.with_suffix(".json").read_text())["raw"][0]["images_per_s"] == 41234.5


@pytest.mark.slow
def test_the_check_runs_end_to_end_on_cpu_and_its_fork_proof_fails_there(
    artifacts_dir: Path, tmp_path: Path
) -> None:
    """The same servers, evidence, loads and report as on a GPU, with ``device=cpu``: the
    Seldon process tree is read for real, and the verdict must say no GPU was used."""
    args = gpu_check.parse_args(["--batches", "2", "--duration", "2", "--warmup", "1",
                                 "--artifacts", str(artifacts_dir)])  # fmt: skip
    args.device = "cpu"  # what no GPU machine can do through the CLI
    inputs = gpu_check.payloads.load_inputs(artifacts_dir)
    with gpu_check.start_servers(args, inputs) as pool:
        fork = gpu_check.check_fork(pool)
        served = gpu_check.measure_served(pool, fork, args, inputs)
    assert [f["server"] for f in fork] == ["gpu-amp-off", "gpu-amp-auto"]
    for server in fork:
        roles = [p["role"] for p in server["processes"]]
        assert roles[0] == "master" and "parent" in roles and roles.count("worker") >= 2
        assert server["health_device"] == "cpu" and server["health_amp"] == "off"
        assert server["verdict"].startswith("FAIL: no worker holds a GPU device open")
    assert {(r["transport"], r["clients"]) for r in served} >= {("grpc", 2)}
    assert all(r["errors"] == 0 for r in served)
    # a busy shared machine may leave one short run without a reply, never all of them
    assert any(r["throughput_rps"] > 0 for r in served)
    raw = gpu_check.measure_raw(args, inputs)
    assert [(r["amp"], r["batch"]) for r in raw] == [("off", 2), ("off", 2)]
