"""The scenarios and the run: every server up at once, alternating rounds, always stopped.

Scenarios (names as in the JSON report):

- ``raw``: the classifier's forward pass in this process (``model.inference``), batch 1,
  the batch size ``batched`` formed at 32 clients, 32 and 64; throughput in images/s.
- ``baseline``: bare ``seldon-core-microservice model.predictor.TorchPredictor`` with
  Seldon's defaults (1 worker, 1 thread, 1 gRPC thread) and ``batching=false``.
- ``batched``: the same with dynamic batching (32 samples, 2 ms) and 32 threads.
- ``graph``: ``seldon-graph serve graph/seldondeployment.yaml`` (transformer -> drift ->
  classifier, 90/10 canary), PNG as ``binData``, REST ingress path and gRPC ``Seldon``.
- ``graph_nodrift``: the same manifest without the drift detector (transformer ->
  classifier), derived in memory and written to ``benchmarks/.work``, at 1 client.
- ``payload``: one image as JSON ``ndarray`` vs ``tensor`` vs ``binData`` PNG to the graph
  (REST), and the classifier's normalised input as ``ndarray`` vs ``tensor`` to ``batched``.
- the peers, from ``benchmarks.peers.registry``: single models (``mlserver``: MLServer 1.7
  + ``DigitsRuntime``; ``torchserve``, ``pytriton``, ``kserve``, ``bentoml``,
  ``ray_serve``) and the three-node graph composed in ``bentoml_graph`` and ``ray_graph``.

A round visits every concurrency level and, at each level, every case (the order rotates
from round to round, ``raw`` last); ``--rounds`` rounds, so drift hits all cases alike.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import loadgen, memory, payloads, servers
from benchmarks.nodrift import write_nodrift_manifest
from benchmarks.peers import registry as peers

SCENARIOS = ("raw", "baseline", "batched", "graph", "graph_nodrift", "payload", *peers.NAMES)
FORMED_LEVEL = 32  # the concurrency at which the batch size ``batched`` forms is recorded
RAW_BATCHES = (1, 32, 64)
SELDON_REST = "/api/v1.0/predictions"
MODEL_GRPC = "/seldon.protos.Model/Predict"
GRAPH_REST = "/seldon/seldon/digits/api/v1.0/predictions"
GRAPH_GRPC = "/seldon.protos.Seldon/Predict"
GRAPH_METADATA = (("seldon", "digits"), ("namespace", "seldon"))


@dataclass(frozen=True)
class Case:
    """One thing to measure at each of its concurrency levels."""

    name: str  # scenario name
    target: str  # server key (or "raw")
    transport: str  # rest | grpc | inprocess
    payload: str
    only_level: int | None = None  # measured at this level only (None: every level)


@dataclass(frozen=True)
class BenchConfig:
    scenarios: tuple[str, ...]
    levels: tuple[int, ...]
    rounds: int
    duration_s: float
    warmup_s: float
    artifacts: Path
    manifest: Path
    ready_timeout_s: float = 300.0
    log: Callable[[str], None] = print


def cases_for(scenarios: Sequence[str], levels: Sequence[int], quick: bool) -> list[Case]:
    """The cases of the chosen scenarios; the raw ones come last."""
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    low = min(levels)
    pay_level = None if not quick else low
    table: dict[str, list[Case]] = {
        "baseline": [Case("baseline", "baseline", "rest", "tensor"),
                     Case("baseline", "baseline", "grpc", "tftensor")],
        "batched": [Case("batched", "batched", "rest", "tensor"),
                    Case("batched", "batched", "grpc", "tftensor")],
        "graph": [Case("graph", "graph", "rest", "binData"),
                  Case("graph", "graph", "grpc", "binData")],
        "graph_nodrift": [Case("graph_nodrift", "graph_nodrift", "rest", "binData", low),
                          Case("graph_nodrift", "graph_nodrift", "grpc", "binData", low)],
        "payload": [Case("payload", "graph", "rest", kind, pay_level)
                    for kind in ("pixels-ndarray", "pixels-tensor", "binData")]
                   + [Case("payload", "batched", "rest", kind, pay_level)
                      for kind in ("ndarray", "tensor")],
        **peers.cases(Case),
    }  # fmt: skip
    if not quick and "payload" in table:
        levels_for_payload = [lv for lv in (low, FORMED_LEVEL) if lv in levels]
        table["payload"] = [
            Case(c.name, c.target, c.transport, c.payload, lv)
            for c in table["payload"]
            for lv in levels_for_payload
        ]
    cases = [c for name in SCENARIOS if name in scenarios for c in table.get(name, [])]
    if "raw" in scenarios:
        level = FORMED_LEVEL if FORMED_LEVEL in levels else max(levels)
        for label in (*(f"batch-{n}" for n in RAW_BATCHES), "batch-formed"):
            cases.append(Case("raw", "raw", "inprocess", label, level))
    return cases


def seldon_probes(server: servers.Server, inputs: payloads.Inputs) -> list[Callable[[], bool]]:
    """A seldon-core-microservice MODEL is ready once it answers a real prediction over
    REST (``data.tensor``) and gRPC (``tftensor``)."""
    return [
        servers.rest_probe(f"http://127.0.0.1:{server.http_port}{SELDON_REST}",
                           payloads.seldon_rest("tensor", inputs)),
        servers.grpc_probe(f"127.0.0.1:{server.grpc_port}", MODEL_GRPC,
                           payloads.seldon_grpc("tftensor", inputs)),
    ]  # fmt: skip


def batched_server(
    name: str, model_uri: Path, inputs: payloads.Inputs, **params: object
) -> servers.Server:
    """The batched classifier as a bare seldon-core-microservice (32 threads, batches of up
    to 32 formed within 2 ms), ready once it answers REST and gRPC. ``params`` add to its
    parameters (``device``, ``amp``); a caller may still add to its argv or env."""
    server = servers.seldon_microservice(
        name, model_uri, 32, batching=True, max_batch_size=32, max_delay_ms=2.0, **params
    )
    server.probes = seldon_probes(server, inputs)
    return server


def build_servers(targets: set[str], config: BenchConfig, inputs: payloads.Inputs) -> list:
    """The servers the cases need, each with readiness probes over REST and gRPC."""
    v1 = (config.artifacts / "v1").resolve()
    models = config.artifacts.resolve()
    found: list[servers.Server] = []
    if "baseline" in targets:
        baseline = servers.seldon_microservice("baseline", v1, 1, batching=False)
        baseline.probes = seldon_probes(baseline, inputs)
        found.append(baseline)
    if "batched" in targets:
        found.append(batched_server("batched", v1, inputs))
    found += peers.build(targets, v1, inputs, config.log)
    manifests = {"graph": config.manifest}
    if "graph_nodrift" in targets:
        manifests["graph_nodrift"] = write_nodrift_manifest(config.manifest)
    for key in ("graph", "graph_nodrift"):
        if key in targets:
            s = servers.graph(key, manifests[key], models)
            s.probes = [
                servers.rest_probe(f"http://127.0.0.1:{s.http_port}{GRAPH_REST}",
                                   payloads.seldon_rest("binData", inputs)),
                servers.grpc_probe(f"127.0.0.1:{s.grpc_port}", GRAPH_GRPC,
                                   payloads.seldon_grpc("binData", inputs), GRAPH_METADATA),
            ]  # fmt: skip
            found.append(s)
    return found


@contextmanager
def _rest_batch_sampler(url: str, body: bytes, sizes: list[float]) -> Iterator[None]:
    """Every 0.2 s, one extra request whose reply's ``batch_size`` metric is recorded."""
    import json

    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:
                    metrics = json.loads(reply.read()).get("meta", {}).get("metrics", [])
            except (OSError, ValueError):
                continue
            sizes.extend(float(m["value"]) for m in metrics if m.get("key") == "batch_size")

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=15)


class Runner:
    """Measures cases against running servers (and the raw model in this process)."""

    def __init__(self, config: BenchConfig, inputs: payloads.Inputs, pool: Any) -> None:
        self.config, self.inputs, self.pool = config, inputs, pool
        self.formed: float | None = None  # mean batch size of batched at FORMED_LEVEL
        self._raw_model: Any = None
        self.memory: memory.GraphMemory | None = None  # PSS of the graph, under load

    def _sampling(self, case: Case, level: int) -> Any:
        """Sample the graph's PSS while a ``graph`` case runs (else nothing)."""
        server = self.pool.servers.get("graph")
        if case.name != "graph" or server is None or server.process is None:
            return nullcontext()
        if self.memory is None:
            nodes = servers.LOGS / "graph-nodes" / "nodes.json"
            self.memory = memory.GraphMemory(server.process.pid, nodes)
        return self.memory.during(f"graph {case.transport} at {level} clients")

    def measure(self, case: Case, level: int) -> dict[str, Any]:
        row: dict[str, Any] = {"name": case.name, "target": case.target,
                               "transport": case.transport, "payload": case.payload,
                               "concurrency": level}  # fmt: skip
        if case.transport == "inprocess":
            batch = self._raw_batch(case.payload)
            if batch is None:
                raise loadgen.LoadError("no formed batch size yet (batched did not run at 32)")
            result = self._raw(batch)
            row.update(concurrency=1, batch_size=batch)  # one in-process caller
        else:
            sizes: list[float] = []
            record = case.name == "batched" and level == FORMED_LEVEL
            with self._sampling(case, level):
                result = self._serve(case, level, sizes if record else None)
            if sizes:
                row["mean_batch_size"] = round(sum(sizes) / len(sizes), 2)
                if case.transport == "grpc" or self.formed is None:
                    self.formed = row["mean_batch_size"]
        row.update(throughput_rps=round(result.throughput_rps, 2), p50_ms=round(result.p50_ms, 3),
                   p90_ms=round(result.p90_ms, 3), p99_ms=round(result.p99_ms, 3),
                   errors=result.errors, requests=result.requests)  # fmt: skip
        if result.error_kinds:
            row["error_kinds"] = dict(result.error_kinds)
        return row

    def _serve(self, case: Case, level: int, sizes: list[float] | None) -> loadgen.LoadResult:
        server = self.pool.servers[case.target]
        cfg = self.config
        if case.target in peers.PEERS:
            return peers.measure(case.target, case.transport, server, self.inputs, level,
                                 cfg.duration_s, cfg.warmup_s)  # fmt: skip
        if case.transport == "grpc":
            is_graph = case.target.startswith("graph")
            inspect = None
            if sizes is not None:

                def inspect(reply: bytes) -> None:
                    size = payloads.batch_size_of(reply)
                    if size is not None:
                        sizes.append(size)

            return loadgen.run_grpc(
                f"127.0.0.1:{server.grpc_port}", GRAPH_GRPC if is_graph else MODEL_GRPC,
                payloads.seldon_grpc(case.payload, self.inputs),
                metadata=GRAPH_METADATA if is_graph else (), inspect=inspect,
                concurrency=level, duration_s=cfg.duration_s, warmup_s=cfg.warmup_s,
            )  # fmt: skip
        path = GRAPH_REST if case.target.startswith("graph") else SELDON_REST
        body = payloads.seldon_rest(case.payload, self.inputs)
        url = f"http://127.0.0.1:{server.http_port}{path}"
        with _rest_batch_sampler(url, body, sizes) if sizes is not None else nullcontext():
            return loadgen.run_wrk(
                url, body, concurrency=level, duration_s=cfg.duration_s, warmup_s=cfg.warmup_s
            )

    def _raw_batch(self, label: str) -> int | None:
        if label == "batch-formed":
            return None if self.formed is None else max(1, round(self.formed))
        return int(label.removeprefix("batch-"))

    def _raw(self, batch: int) -> loadgen.LoadResult:
        import numpy as np

        if self._raw_model is None:
            from model.inference import load_model
            from model.settings import PredictorSettings, build_settings

            uri = str((self.config.artifacts / "v1").resolve())
            settings = build_settings(PredictorSettings, "raw", {"model_uri": uri})
            self._raw_model = load_model(settings)
        model = self._raw_model
        x = np.repeat(self.inputs.normalised, batch, axis=0)
        return loadgen.time_forward(
            lambda: model.run(x), batch,
            duration_s=self.config.duration_s, warmup_s=self.config.warmup_s,
        )  # fmt: skip


def run(
    config: BenchConfig, quick: bool, extras: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], payloads.Inputs]:
    """Every round of every case; rows carry their round. Servers always stopped.

    ``extras`` (if given) receives ``memory``: the graph's peak PSS under load.
    """
    cases = cases_for(config.scenarios, config.levels, quick)
    inputs = payloads.load_inputs(config.artifacts)
    targets = {c.target for c in cases if c.transport != "inprocess"}
    pool = servers.ServerPool(
        build_servers(targets, config, inputs), config.ready_timeout_s, config.log
    )
    rows: list[dict[str, Any]] = []
    config.log(f"starting servers: {', '.join(sorted(targets)) or 'none'}")
    with pool:
        runner = Runner(config, inputs, pool)
        for round_index in range(config.rounds):
            for level in config.levels:
                here = [c for c in cases if c.only_level in (None, level)]
                served = [c for c in here if c.transport != "inprocess"]
                shift = round_index % len(served) if served else 0
                ordered = served[shift:] + served[:shift] + [c for c in here if c not in served]
                for case in ordered:
                    pool.focus(case.target if case.transport != "inprocess" else None)
                    pool.wait_quiet()
                    try:
                        row = runner.measure(case, level)
                    except loadgen.LoadError as exc:
                        config.log(f"  {case.name}/{case.transport}/{case.payload}: {exc}")
                        continue
                    row["round"] = round_index
                    rows.append(row)
                    config.log(
                        f"  round {round_index + 1} c={level:<3} {case.name:<13} "
                        f"{case.transport:<9} {case.payload:<14} "
                        f"{row['throughput_rps']:>9.1f}/s p50 {row['p50_ms']:>8.2f} ms "
                        f"p99 {row['p99_ms']:>8.2f} ms errors {row['errors']}"
                    )
        section = runner.memory.section() if runner.memory is not None else None
        if extras is not None and section is not None:
            extras["memory"] = section
    return rows, inputs
