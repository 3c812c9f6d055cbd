"""Closed-loop load generators: wrk for REST, grpc.aio for gRPC, a timer for raw forwards.

Every run is closed loop (N clients, each sends its next request when the previous reply
arrived), starts with a warm-up whose requests are not counted, measures for a fixed
duration, talks to loopback only and has a hard timeout. Each returns a ``LoadResult``.

The clients share the machine's cores with the servers, so they are kept lean:

- REST: Debian's ``wrk`` (C, epoll), 1 thread at concurrency 1 and 2 threads otherwise,
  ``-c N --latency``. A Lua script builds the POST request once per thread, counts non-2xx
  replies per thread and, in its ``done`` hook, prints the latency percentiles, request
  count and error count as one JSON line.
- gRPC: N coroutines on a few ``grpc.aio`` channels, calling the method with pre-serialised
  request bytes (no per-call protobuf encoding) and not decoding replies, except for an
  optional ``inspect`` hook that sees every reply's bytes.
- raw: the model's forward pass in this process, back to back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

MARKER = "WRK_JSON "

_WRK_LUA = r"""
-- Built by benchmarks/loadgen.py: POST the body of args[1], count non-2xx, print JSON.
local threads = {}
local body_path, content_type = nil, nil

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local body = f:read("*a")
  f:close()
  non2xx = 0
  local headers = {}
  headers["Content-Type"] = args[2] or "application/json"
  for i = 3, #args, 2 do headers[args[i]] = args[i + 1] end
  req = wrk.format("POST", nil, headers, body)
end

function request()
  return req
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non2xx") or 0) end
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    "WRK_JSON ", summary.requests, summary.duration, bad, socket,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


class LoadError(RuntimeError):
    """A load run could not be carried out (tool missing, timeout, unreadable output)."""


@dataclass(frozen=True)
class LoadResult:
    """What one measured run gives; latencies in milliseconds."""

    requests: int
    errors: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    items_per_request: int = 1  # images per request (raw forwards: the batch size)
    error_kinds: tuple[tuple[str, int], ...] = ()  # e.g. (("DEADLINE_EXCEEDED", 3),)

    @property
    def throughput_rps(self) -> float:
        """Successful items per second (images/s for raw batches)."""
        if self.duration_s <= 0:
            return 0.0
        return max(0, self.requests - self.errors) * self.items_per_request / self.duration_s


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation; NaN for no values."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(latencies_s: Sequence[float], errors: int, duration_s: float) -> LoadResult:
    """A ``LoadResult`` from per-request latencies (seconds) of one measured window."""
    ms = [v * 1000.0 for v in latencies_s]
    return LoadResult(
        requests=len(ms),
        errors=errors,
        duration_s=duration_s,
        p50_ms=percentile(ms, 50),
        p90_ms=percentile(ms, 90),
        p99_ms=percentile(ms, 99),
    )


# ----- REST: wrk -----
def wrk_threads(concurrency: int) -> int:
    return 1 if concurrency <= 1 else 2


def parse_wrk_output(stdout: str) -> LoadResult:
    """The ``LoadResult`` of the JSON line the Lua ``done`` hook printed."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            return _wrk_result(json.loads(line[len(MARKER) :]))
    raise LoadError(f"wrk printed no result line; output was:\n{stdout[-2000:]}")


def _wrk_result(data: dict[str, float]) -> LoadResult:
    kinds = {"non-2xx": int(data["non2xx"]), "socket": int(data["socket_errors"])}
    requests = int(data["requests"])

    def ms(key: str) -> float:  # no reply: no latency (wrk would say 0)
        return int(data[key]) / 1000.0 if requests else math.nan

    return LoadResult(
        requests=requests,
        errors=sum(kinds.values()),
        duration_s=int(data["duration_us"]) / 1e6,
        p50_ms=ms("p50_us"),
        p90_ms=ms("p90_us"),
        p99_ms=ms("p99_us"),
        error_kinds=tuple((k, v) for k, v in kinds.items() if v),
    )


def run_wrk(
    url: str,
    body: bytes,
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    timeout_s: float = 10.0,
) -> LoadResult:
    """Warm up, then measure ``url`` with wrk (POST ``body``) for ``duration_s``."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise LoadError("wrk is not installed (apt-get install -y wrk; `make bench` does it)")
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise LoadError(f"refusing a non-loopback target: {url}")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script, body_file = Path(tmp) / "post.lua", Path(tmp) / "body"
        script.write_text(_WRK_LUA)
        body_file.write_bytes(body)
        extra = [item for pair in (headers or {}).items() for item in pair]
        args = [str(body_file), content_type, *extra]

        def once(seconds: float) -> str:
            cmd = [
                wrk, "-t", str(wrk_threads(concurrency)), "-c", str(concurrency),
                "-d", f"{max(1, math.ceil(seconds))}s", "--latency",
                "--timeout", f"{int(timeout_s)}s", "-s", str(script), url, "--", *args,
            ]  # fmt: skip
            try:
                done = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=seconds + timeout_s + 30
                )
            except subprocess.TimeoutExpired as exc:
                raise LoadError(f"wrk did not finish within {exc.timeout:.0f} s") from None
            if done.returncode != 0:
                raise LoadError(f"wrk exited {done.returncode}: {done.stderr.strip()[-500:]}")
            return done.stdout

        if warmup_s > 0:
            once(warmup_s)
        return parse_wrk_output(once(duration_s))


# ----- gRPC: grpc.aio -----
async def _grpc_load(
    target: str,
    method: str,
    request: bytes,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    metadata: tuple[tuple[str, str], ...],
    call_timeout_s: float,
    inspect: Callable[[bytes], None] | None,
) -> LoadResult:
    import grpc

    channels = [
        grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
        for _ in range(max(1, min(4, math.ceil(concurrency / 16))))
    ]
    try:
        calls = [ch.unary_unary(method) for ch in channels]  # bytes in, bytes out
        await asyncio.gather(*(ch.channel_ready() for ch in channels))
        start = time.perf_counter()
        measure_from, measure_to = start + warmup_s, start + warmup_s + duration_s
        latencies: list[float] = []
        kinds: dict[str, int] = {}

        async def client(index: int) -> None:
            call = calls[index % len(calls)]
            while True:
                sent = time.perf_counter()
                code = None
                try:
                    reply = await call(request, metadata=metadata, timeout=call_timeout_s)
                except grpc.aio.AioRpcError as exc:
                    code = exc.code().name
                done = time.perf_counter()
                if measure_from <= done <= measure_to:  # completed in the window, like wrk
                    latencies.append(done - sent)
                    if code is not None:
                        kinds[code] = kinds.get(code, 0) + 1
                    elif inspect is not None:
                        inspect(reply)

        tasks = [asyncio.create_task(client(i)) for i in range(concurrency)]
        try:
            await asyncio.sleep(warmup_s + duration_s)
        finally:
            for task in tasks:  # calls still in flight at the end are not counted
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        result = summarise(latencies, sum(kinds.values()), duration_s)
        return dataclasses.replace(result, error_kinds=tuple(sorted(kinds.items())))
    finally:
        await asyncio.gather(*(ch.close() for ch in channels))


def run_grpc(
    target: str,
    method: str,
    request: bytes,
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    metadata: Sequence[tuple[str, str]] = (),
    call_timeout_s: float = 10.0,
    inspect: Callable[[bytes], None] | None = None,
) -> LoadResult:
    """Warm up, then measure gRPC ``method`` on ``target`` with pre-serialised ``request``."""
    if not target.startswith(("127.0.0.1:", "localhost:")):
        raise LoadError(f"refusing a non-loopback target: {target}")
    hard = warmup_s + duration_s + call_timeout_s + 30
    coro = _grpc_load(
        target, method, request, concurrency, duration_s, warmup_s,
        tuple(metadata), call_timeout_s, inspect,
    )  # fmt: skip
    try:
        return asyncio.run(asyncio.wait_for(coro, timeout=hard))
    except TimeoutError:
        raise LoadError(f"gRPC load on {target} did not finish within {hard:.0f} s") from None


# ----- raw forward passes -----
def time_forward(
    forward: Callable[[], object], batch_size: int, *, duration_s: float, warmup_s: float
) -> LoadResult:
    """Call ``forward`` back to back; throughput in images/s (``batch_size`` per call)."""
    deadline = time.perf_counter() + warmup_s
    forward()
    while time.perf_counter() < deadline:
        forward()
    latencies: list[float] = []
    start = time.perf_counter()
    end = start + duration_s
    while True:
        t0 = time.perf_counter()
        forward()
        t1 = time.perf_counter()
        latencies.append(t1 - t0)
        if t1 >= end:
            break
    elapsed = time.perf_counter() - start
    result = summarise(latencies, 0, elapsed)
    return LoadResult(
        requests=result.requests,
        errors=0,
        duration_s=elapsed,
        p50_ms=result.p50_ms,
        p90_ms=result.p90_ms,
        p99_ms=result.p99_ms,
        items_per_request=batch_size,
    )
