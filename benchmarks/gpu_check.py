"""``python -m benchmarks.gpu_check`` (``make gpu-check``): the classifier on an NVIDIA GPU.

On a machine with a GPU (under 5 minutes, no network needed):

1. starts ``seldon-core-microservice model.predictor.TorchPredictor`` twice with
   ``device`` (``cuda``), batching (32 samples, 2 ms) and 32 threads: ``amp=off`` and
   ``amp=<--amp>`` (``auto``: bf16 where supported, else fp16);
2. proves CUDA was first touched after Seldon's fork: no process that forked others
   (Gunicorn master, gRPC parent) has the CUDA driver mapped or a GPU device open, a worker
   has, ``/health/status`` reports a ``cuda`` device, the log has no re-initialisation
   error (``benchmarks.gpu_report.fork_verdict``);
3. measures the served throughput with 1/8/32 clients sending one image each (gRPC
   ``tftensor``; REST too where ``wrk`` is installed), recording the batch sizes formed,
   and the raw forward at batch 1/8/32 in this process, with AMP off and on;
4. writes ``--out`` (``benchmarks/results/gpu.md``) and the same as JSON beside it.

Exit status: 0 measured and the fork check passed; 1 the fork check failed or a
measurement failed (the report is still written); 2 usage error or no trained model;
3 no usable NVIDIA GPU here: nothing is measured and nothing is written.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import gpu_report, loadgen, payloads, procs, report, scenarios, servers
from benchmarks.scenarios import MODEL_GRPC, SELDON_REST

NO_GPU = 3
OUT = servers.ROOT / "benchmarks" / "results" / "gpu.md"
REINIT = "Cannot re-initialize CUDA in forked subprocess"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu_check",
        description=(
            "The classifier under seldon-core-microservice on an NVIDIA GPU: CUDA after the "
            "fork, raw and served throughput with AMP off and on. Exits 3 where no GPU is."
        ),
    )
    parser.add_argument("--out", type=Path, default=OUT, help="Markdown report (.json beside)")
    parser.add_argument("--artifacts", type=Path, default=servers.ROOT / "artifacts")
    parser.add_argument("--device", default="cuda", help="cuda or cuda:N (cuda)")
    parser.add_argument(
        "--amp",
        choices=("auto", "fp16", "bf16"),
        default="auto",
        help="the AMP-on dtype (auto: bf16 if supported, else fp16)",
    )
    parser.add_argument(
        "--batches", default="1,8,32", help="raw batch sizes and served client counts (1,8,32)"
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds")
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    args = parser.parse_args(argv)  # fmt: skip
    try:
        args.batches = tuple(sorted({int(b) for b in args.batches.split(",") if b.strip()}))
    except ValueError:
        parser.error(f"--batches must be comma-separated integers, got {args.batches!r}")
    if not args.batches or min(args.batches) < 1:
        parser.error("--batches needs positive sizes")
    if args.device != "cuda" and not (
        args.device.startswith("cuda:") and args.device[5:].isdigit()
    ):
        parser.error(f"--device must be cuda or cuda:N, got {args.device!r}")
    if args.duration <= 0 or args.warmup < 0:
        parser.error("--duration must be > 0 and --warmup >= 0")
    return args


def driver_version() -> str | None:
    """The NVIDIA driver's version per ``nvidia-smi``, ``None`` without it."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    found = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    return (found.stdout.splitlines() or ["unknown"])[0].strip() or "unknown"


def detect_gpu(device: str) -> tuple[dict[str, Any] | None, str]:
    """``(info, "")`` for a usable GPU, else ``(None, why not)``; never starts a server."""
    import torch

    driver = driver_version()
    if not torch.cuda.is_available():
        smi = "nvidia-smi not found" if driver is None else f"nvidia-smi: driver {driver}"
        hint = "" if driver is None else "; a CUDA 13 build of torch needs an r580+ driver"
        return None, (f"torch.cuda.is_available() is False (torch {torch.__version__}, "
                      f"CUDA build {torch.version.cuda}; {smi}{hint})")  # fmt: skip
    index = int(device[5:]) if device.startswith("cuda:") else 0
    if index >= torch.cuda.device_count():
        return None, f"{device} asked for, {torch.cuda.device_count()} GPU(s) visible"
    return {"gpu": torch.cuda.get_device_name(index), "driver": driver or "unknown",
            "cuda": torch.version.cuda}, ""  # fmt: skip


def compute_app_pids() -> set[int]:
    """Pids with a CUDA context per ``nvidia-smi`` (empty if it cannot tell)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return set()
    found = subprocess.run([smi, "--query-compute-apps=pid", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    return {int(x) for x in found.stdout.split() if x.strip().isdigit()}


def fork_evidence(root_pid: int, compute: set[int]) -> list[gpu_report.Proc]:
    """Each process of the server's tree with its CUDA evidence and role."""
    found = []
    for p in procs.tree(root_pid):
        ev = procs.cuda_evidence(p.pid)
        found.append({"pid": p.pid, "ppid": p.ppid, "cmdline": p.cmdline,
                      "driver_mapped": ev.driver_mapped, "gpu_files": list(ev.gpu_files),
                      "compute_app": p.pid in compute})  # fmt: skip
    return gpu_report.roles(found)


def health(server: servers.Server) -> dict[str, Any]:
    import json
    import urllib.request

    url = f"http://127.0.0.1:{server.http_port}/health/status"
    with urllib.request.urlopen(url, timeout=10) as reply:
        data = json.loads(reply.read())
    return dict(data.get("jsonData", data)) if isinstance(data, dict) else {}


def start_servers(args: argparse.Namespace, inputs: payloads.Inputs) -> servers.ServerPool:
    v1 = (args.artifacts / "v1").resolve()
    found = [
        scenarios.batched_server(f"gpu-amp-{amp}", v1, inputs, device=args.device, amp=amp)
        for amp in ("off", args.amp)
    ]
    return servers.ServerPool(found, args.ready_timeout, lambda line: print(line, file=sys.stderr))


def check_fork(pool: servers.ServerPool) -> list[dict[str, Any]]:
    compute = compute_app_pids()
    out = []
    for server in pool.servers.values():
        assert server.process is not None
        state = health(server)
        evidence = fork_evidence(server.process.pid, compute)
        reinit = REINIT in server.log_path.read_text(errors="replace")
        out.append(
            {
                "server": server.name,
                "health_device": state.get("device"),
                "health_amp": state.get("amp"),
                "processes": evidence,
                "verdict": gpu_report.fork_verdict(evidence, state.get("device"), reinit),
            }
        )
    return out  # fmt: skip


def serve_once(
    server: servers.Server, transport: str, clients: int, args: argparse.Namespace,
    inputs: payloads.Inputs,
) -> dict[str, Any]:  # fmt: skip
    """One closed-loop run of ``clients`` one-image clients; gRPC records formed batches."""
    sizes: list[float] = []

    def inspect(reply: bytes) -> None:
        size = payloads.batch_size_of(reply)
        if size is not None:
            sizes.append(size)

    if transport == "grpc":
        r = loadgen.run_grpc(
            f"127.0.0.1:{server.grpc_port}", MODEL_GRPC, payloads.seldon_grpc("tftensor", inputs),
            inspect=inspect, concurrency=clients, duration_s=args.duration,
            warmup_s=args.warmup)  # fmt: skip
    else:
        r = loadgen.run_wrk(
            f"http://127.0.0.1:{server.http_port}{SELDON_REST}",
            payloads.seldon_rest("tensor", inputs), concurrency=clients,
            duration_s=args.duration, warmup_s=args.warmup)  # fmt: skip
    return {"transport": transport, "clients": clients,
            "throughput_rps": round(r.throughput_rps, 1), "p50_ms": r.p50_ms,
            "p99_ms": r.p99_ms, "errors": r.errors,
            "mean_batch_size": round(sum(sizes) / len(sizes), 2) if sizes else None}  # fmt: skip


def measure_served(
    pool: servers.ServerPool, fork: list[dict[str, Any]], args: argparse.Namespace,
    inputs: payloads.Inputs,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every client count, server (AMP off, on) and transport (REST only with wrk)."""
    amps = {f["server"]: f["health_amp"] for f in fork}
    transports = ("grpc", "rest") if shutil.which("wrk") else ("grpc",)
    rows = []
    for clients in args.batches:
        for server in pool.servers.values():
            for transport in transports:
                pool.wait_quiet()
                row = serve_once(server, transport, clients, args, inputs)
                rows.append({"amp": amps[server.name], **row})
                print(f"  served {rows[-1]}", file=sys.stderr)
    return rows


def measure_raw(args: argparse.Namespace, inputs: payloads.Inputs) -> list[dict[str, Any]]:
    import numpy as np

    from model.inference import load_model
    from model.settings import PredictorSettings, build_settings

    rows = []
    for amp in ("off", args.amp):
        params = {"model_uri": str((args.artifacts / "v1").resolve()), "device": args.device,
                  "amp": amp}  # fmt: skip
        model = load_model(build_settings(PredictorSettings, "gpu-check raw", params))
        label = model.describe()["amp"]
        for batch in args.batches:
            x = np.repeat(inputs.normalised, batch, axis=0)
            r = loadgen.time_forward(
                functools.partial(model.run, x), batch,
                duration_s=args.duration, warmup_s=args.warmup)  # fmt: skip
            rows.append({"amp": label, "batch": batch, "images_per_s": round(r.throughput_rps, 1),
                         "p50_ms": r.p50_ms, "p99_ms": r.p99_ms})  # fmt: skip
            print(f"  raw {rows[-1]}", file=sys.stderr)
    return rows


def write(doc: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(gpu_report.markdown(doc))
    out.with_suffix(".json").write_text(report.to_json(doc))
    print(f"wrote {out} and {out.with_suffix('.json')}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    gpu, why = detect_gpu(args.device)
    if gpu is None:
        print(f"gpu-check: no usable NVIDIA GPU here: {why}. Nothing measured; {args.out} "
              f"not written (exit {NO_GPU}).", file=sys.stderr)  # fmt: skip
        return NO_GPU
    if not (args.artifacts / "v1" / "metadata.json").is_file():
        print(
            f"gpu-check: no model in {args.artifacts}/v1: run `make train` first", file=sys.stderr
        )
        return 2
    started = time.monotonic()
    inputs = payloads.load_inputs(args.artifacts)
    doc: dict[str, Any] = {
        "machine": {**report.machine_info(servers.ROOT, None), **gpu},
        "config": {"duration_s": args.duration, "warmup_s": args.warmup,
                   "batches": list(args.batches), "device": args.device, "amp": args.amp,
                   "server": "batching (max_batch_size 32, max_delay_ms 2), --threads 32 "
                             "--grpc-threads 32, 1 Gunicorn worker, 1 gRPC worker"},
        "fork_check": [], "raw": [], "served": [], "skipped": [],
    }  # fmt: skip
    if shutil.which("wrk") is None:
        doc["skipped"].append("REST (wrk is not installed here; gRPC only)")
    ok = True
    try:
        with start_servers(args, inputs) as pool:
            doc["fork_check"] = check_fork(pool)
            doc["served"] = measure_served(pool, doc["fork_check"], args, inputs)
        doc["raw"] = measure_raw(args, inputs)
    except (servers.ServerError, loadgen.LoadError, OSError) as exc:
        doc["skipped"].append(f"stopped early: {type(exc).__name__}: {exc}"[:2000])
        ok = False
    doc["wall_s"] = round(time.monotonic() - started, 1)
    write(doc, args.out)
    ok = ok and all(f["verdict"] == "PASS" for f in doc["fork_check"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
