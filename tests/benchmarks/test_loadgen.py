"""The load generators against tiny in-process servers: counts, errors, bounded time."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest

from benchmarks import loadgen

METHOD = "/bench.Test/Echo"


@pytest.fixture()
def grpc_server() -> Iterator[tuple[str, list[bytes]]]:
    """A generic unary handler: echoes the request; b"fail" aborts UNAVAILABLE."""
    seen: list[bytes] = []

    def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen.append(request)
        if request == b"fail":
            context.abort(grpc.StatusCode.UNAVAILABLE, "told to fail")
        return request

    handler = grpc.method_handlers_generic_handler(
        "bench.Test", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", seen
    finally:
        server.stop(grace=None)


def test_grpc_load_counts_replies_after_the_warm_up(grpc_server) -> None:
    target, seen = grpc_server
    replies: list[bytes] = []
    start = time.monotonic()
    result = loadgen.run_grpc(target, METHOD, b"ping", concurrency=3, duration_s=0.5,
                              warmup_s=0.2, inspect=replies.append)  # fmt: skip
    assert time.monotonic() - start < 10
    assert result.errors == 0 and result.requests > 0
    assert result.requests < len(seen)  # warm-up calls were sent but not counted
    assert replies and set(replies) == {b"ping"}
    assert result.throughput_rps == pytest.approx(result.requests / 0.5)


def test_grpc_load_counts_failures_by_status_code(grpc_server) -> None:
    target, _ = grpc_server
    result = loadgen.run_grpc(target, METHOD, b"fail", concurrency=2, duration_s=0.3,
                              warmup_s=0.0)  # fmt: skip
    assert result.requests > 0 and result.errors == result.requests
    assert dict(result.error_kinds) == {"UNAVAILABLE": result.requests}
    assert result.throughput_rps == 0.0


class _Handler(BaseHTTPRequestHandler):
    """200 for /ok, 503 for anything else; reads the POST body."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status = 200 if self.path == "/ok" and body == b'{"x": 1}' else 503
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
@pytest.mark.parametrize(("path", "failing"), [("/ok", False), ("/bad", True)])
def test_wrk_posts_the_body_and_counts_non_2xx(path: str, failing: bool) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}{path}"
        result = loadgen.run_wrk(url, b'{"x": 1}', concurrency=2, duration_s=1, warmup_s=0)
    finally:
        server.shutdown()
        server.server_close()
    assert result.requests > 0
    assert result.errors == (result.requests if failing else 0)
    assert result.p50_ms <= result.p90_ms <= result.p99_ms
