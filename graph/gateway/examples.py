"""Ready-to-paste requests for a running gateway (printed by ``seldon-graph serve``)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from graph.spec import DeploymentSpec


def example_image(models_dir: Path | None) -> str:
    """A clean example PNG under ``models_dir/examples/clean`` (a placeholder if none)."""
    if models_dir is not None:
        found = sorted((models_dir / "examples" / "clean").glob("*.png"))
        if found:
            return str(found[0])
    return "artifacts/examples/clean/0-7.png"  # the first one `make train` writes


def usage(
    deployment: DeploymentSpec,
    host: str,
    http_port: int,
    grpc_port: int,
    models_dir: Path | None,
    python: str = ".venv/bin/python",
) -> str:
    """curl (binData PNG and data.ndarray), grpcurl and Python gRPC examples."""
    import seldon_core

    path = example_image(models_dir)
    png = shlex.quote(path)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = (
        f"http://{shown_host}:{http_port}/seldon/{deployment.namespace}/{deployment.name}"
        "/api/v1.0/predictions"
    )
    target = f"{shown_host}:{grpc_port}"
    proto_dir = Path(seldon_core.__file__).parent / "proto"
    ndarray = (
        "import json, numpy, PIL.Image; "
        f"pixels = numpy.asarray(PIL.Image.open({json.dumps(path)})).tolist(); "
        'print(json.dumps({"data": {"ndarray": pixels}}))'
    )
    return "\n".join(
        [
            "# REST, a PNG as binData:",
            f"curl -s {url} -H 'Content-Type: application/json' \\",
            f'  -d "{{\\"binData\\": \\"$(base64 -w0 {png})\\"}}"',
            "",
            "# REST, the same digit as data.ndarray (uint8 pixels):",
            f"{python} -c {shlex.quote(ndarray)} | \\",
            f"  curl -s {url} -H 'Content-Type: application/json' -d @-",
            "",
            "# gRPC with grpcurl:",
            f"grpcurl -plaintext -import-path {proto_dir} -proto prediction.proto \\",
            f"  -H 'seldon: {deployment.name}' -H 'namespace: {deployment.namespace}' \\",
            f'  -d "{{\\"binData\\": \\"$(base64 -w0 {png})\\"}}" \\',
            f"  {target} seldon.protos.Seldon/Predict",
            "",
            *_python_grpc(deployment, target, path),
        ]
    )


def _python_grpc(deployment: DeploymentSpec, target: str, path: str) -> list[str]:
    """The gRPC example in Python (``seldon`` and ``namespace`` metadata pick the deployment)."""
    meta = f'[("seldon", "{deployment.name}"), ("namespace", "{deployment.namespace}")]'
    return [
        "# gRPC from Python:",
        "import grpc",
        "from seldon_core.proto import prediction_pb2, prediction_pb2_grpc",
        f'stub = prediction_pb2_grpc.SeldonStub(grpc.insecure_channel("{target}"))',
        f"msg = prediction_pb2.SeldonMessage(binData=open({path!r}, 'rb').read())",
        f"reply = stub.Predict(msg, metadata={meta})",
        'print(reply.data.names, reply.meta.tags["model_version"])',
    ]
