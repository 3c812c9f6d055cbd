"""The ``torchserve`` scenario: TorchServe 0.12 serving ``handler.DigitsHandler``.

``server()`` packs ``handler.py`` and a model config into ``digits.mar`` with
``torch-model-archiver`` (in ``benchmarks/.work/torchserve``), writes ``config.properties``
with loopback addresses and free ports, and returns the ``torchserve --foreground``
command. TorchServe's frontend (Java 17) batches: up to ``batchSize`` requests or
``maxBatchDelay`` ms, whichever comes first, then one call of the Python worker.
PyYAML is pinned because TorchServe reads the model config with it without declaring it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from benchmarks import servers
from benchmarks.peer_env import PeerEnv

ENV = PeerEnv(
    "torchserve", ("torchserve==0.12.0", "torch-model-archiver==0.12.0", "PyYAML==6.0.*"),
    "torchserve",
)  # fmt: skip
REST_PATH = "/predictions/digits"
MODEL_CONFIG = {
    "minWorkers": 1,  # one Python worker, as one Seldon classifier process
    "maxWorkers": 1,
    "batchSize": 32,
    "maxBatchDelay": 5,  # ms, as MLServer's max_batch_time
    "responseTimeout": 120,
}
PROPERTIES = {
    "default_workers_per_model": "1",
    "disable_token_authorization": "true",  # 0.12 turns token auth on by default
    "enable_model_api": "false",
    "disable_system_metrics": "true",
    "install_py_dep_per_model": "false",
    "job_queue_size": "1000",
}
SETTINGS = {
    "model_config": MODEL_CONFIG, "properties": PROPERTIES,
    "rest": f"POST {REST_PATH} (V2 JSON body)",
    "grpc": "InferenceAPIsService/Predictions, input map {'body': V2 JSON body}",
}  # fmt: skip


def archive(env: PeerEnv, model_uri: Path, folder: Path) -> Path:
    """``digits.mar`` in ``folder/model-store``: the handler and its model config."""
    store = folder / "model-store"
    store.mkdir(parents=True, exist_ok=True)
    config = folder / "model-config.yaml"
    document = {**MODEL_CONFIG, "handler": {"model_uri": str(model_uri.resolve())}}
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    subprocess.run(
        [str(env.bin("torch-model-archiver")), "--model-name", "digits", "--version", "1.0",
         "--handler", str(Path(__file__).with_name("handler.py")),
         "--config-file", str(config), "--export-path", str(store), "--force"],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    return store / "digits.mar"


def properties(store: Path, http: int, grpc: int, management: int, metrics: int) -> str:
    """TorchServe's ``config.properties``: loopback addresses, our ports, ``PROPERTIES``."""
    lines = {
        "inference_address": f"http://127.0.0.1:{http}",
        "management_address": f"http://127.0.0.1:{management}",
        "metrics_address": f"http://127.0.0.1:{metrics}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_management_address": "127.0.0.1",
        "grpc_inference_port": str(grpc),
        "grpc_management_port": str(servers.free_port()),
        "model_store": str(store),
        "load_models": "digits.mar",
        **PROPERTIES,
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def server(env: PeerEnv, model_uri: Path) -> servers.Server:
    """``torchserve --start --foreground`` on free ports, the archive built first."""
    folder = servers.WORK / "torchserve"
    store = archive(env, model_uri, folder).parent
    http, grpc, management, metrics = (servers.free_port() for _ in range(4))
    config = folder / "config.properties"
    config.write_text(properties(store, http, grpc, management, metrics))
    logs = servers.LOGS / "torchserve"
    env_vars = {
        "PYTHONPATH": str(servers.ROOT),
        "PATH": f"{env.bin('python').parent}:/usr/local/bin:/usr/bin:/bin",
        "LOG_LOCATION": str(logs),
        "METRICS_LOCATION": str(logs),
    }
    argv = [str(env.bin("torchserve")), "--start", "--foreground", "--ncs", "--model-store",
            str(store), "--ts-config", str(config), "--disable-token-auth"]  # fmt: skip
    return servers.Server("torchserve", argv, http, grpc, env=env_vars)
