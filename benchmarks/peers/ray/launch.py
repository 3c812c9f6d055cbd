"""Start a local Ray with limited resources, serve one application, stop both on SIGTERM.

``python -m benchmarks.peers.ray.launch {single,graph} --port P`` (in the Ray venv):
``ray.init`` starts a fresh local cluster owned by this process (2 CPUs, no dashboard, a
small object store, a private temp dir), Serve's HTTP proxy listens on
``127.0.0.1:P``, and the application from ``benchmarks.peers.ray.app`` is deployed at
``/``. On SIGTERM or SIGINT it shuts Serve down and calls ``ray.shutdown()``, which stops
the cluster this process started, and nothing else (no ``ray stop``, which would stop
every Ray on the machine).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import threading

CPUS = 2
OBJECT_STORE_BYTES = 200 * 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers.ray.launch")
    parser.add_argument("app", choices=("single", "graph"))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    import ray
    from ray import serve

    from benchmarks.peers.ray import app

    stop = threading.Event()
    # In /tmp, not $TMPDIR (the benchmark points it into the work tree): Ray's socket
    # paths must stay under 108 bytes.
    temp = tempfile.mkdtemp(prefix="rayb-", dir="/tmp")
    ray.init(num_cpus=CPUS, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES,
             _temp_dir=temp, configure_logging=False)  # fmt: skip
    for sig in (signal.SIGTERM, signal.SIGINT):  # after ray.init, which installs its own
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": args.port})
        # No access log line per request (the Seldon servers and MLServer write none).
        logging = {"enable_access_log": False, "log_level": "WARNING"}
        serve.run(getattr(app, args.app)(), name=args.app, route_prefix="/",
                  logging_config=logging)  # fmt: skip
        print(f"ray serve {args.app} ready on 127.0.0.1:{args.port}", flush=True)
        stop.wait()
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
