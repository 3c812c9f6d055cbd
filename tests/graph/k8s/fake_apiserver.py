"""A small HTTP server on 127.0.0.1 that answers like the Kubernetes API for one CRD.

It serves discovery (``/apis/machinelearning.seldon.io/v1``) and GET/POST/PUT/PATCH of
``/apis/machinelearning.seldon.io/v1/namespaces/{ns}/seldondeployments/{name}`` with
resourceVersion bumps, as the real API server does:

- PUT with a stale ``metadata.resourceVersion`` -> 409 Conflict;
- a JSON patch whose ``test`` op fails -> 422 "testing value ... failed: test failed";
- ``dryRun=All`` answers as if it had written but changes nothing;
- ``crd_installed=False`` -> 404 for discovery and every resource path;
- ``forbidden={"patch", ...}`` -> 403 for those verbs;
- ``before_patch``: called (once) before the next PATCH, e.g. to bump the object.

Every request is recorded in ``log`` (method, path, query, content type, parsed body).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GROUP_VERSION = "/apis/machinelearning.seldon.io/v1"
OBJECT = re.compile(rf"^{GROUP_VERSION}/namespaces/([^/]+)/seldondeployments(?:/([^/]+))?$")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


@dataclass
class FakeState:
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    resource_version: int = 100
    crd_installed: bool = True
    forbidden: set[str] = field(default_factory=set)
    before_patch: Callable[[FakeState], None] | None = None
    log: list[Request] = field(default_factory=list)

    def next_rv(self) -> str:
        self.resource_version += 1
        return str(self.resource_version)

    def put_object(self, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(obj)
        stored.setdefault("metadata", {})["namespace"] = ns
        stored["metadata"]["resourceVersion"] = self.next_rv()
        self.objects[(ns, stored["metadata"]["name"])] = stored
        return stored

    def bump(self, ns: str, name: str) -> None:
        """A concurrent writer: change the object's resourceVersion (and nothing else)."""
        self.objects[(ns, name)]["metadata"]["resourceVersion"] = self.next_rv()


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _pointer(doc: Any, path: str) -> tuple[Any, str | int]:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]
    for part in parts[:-1]:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    last = parts[-1]
    return doc, int(last) if isinstance(doc, list) else last


def apply_json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 test/replace/add/remove; raises ValueError like evanphx/json-patch."""
    out = copy.deepcopy(doc)
    for op in ops:
        try:
            parent, key = _pointer(out, op["path"])
            if op["op"] == "test":
                if parent[key] != op["value"]:
                    raise ValueError(f"testing value {op['path']} failed: test failed")
            elif op["op"] == "replace":
                if key not in (range(len(parent)) if isinstance(parent, list) else parent):
                    raise KeyError(key)
                parent[key] = op["value"]
            elif op["op"] == "add":
                parent[key] = op["value"]
            elif op["op"] == "remove":
                del parent[key]
            else:
                raise ValueError(f"unexpected op {op['op']}")
        except (KeyError, IndexError) as exc:
            raise ValueError(
                f"{op['op']} operation does not apply: doc is missing path: {op['path']}"
            ) from exc
    return out


class _Handler(BaseHTTPRequestHandler):
    state: FakeState
    lock: threading.Lock

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        request = Request(
            self.command, url.path, parse_qs(url.query), self.headers.get("Content-Type", ""), body
        )
        with self.lock:
            self.state.log.append(request)
            code, reply = self._route(request)
        self._reply(code, reply)

    def _route(self, req: Request) -> tuple[int, Any]:
        state = self.state
        if not state.crd_installed:
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        if req.path == GROUP_VERSION and req.method == "GET":
            return 200, {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": "machinelearning.seldon.io/v1",
                "resources": [
                    {
                        "name": "seldondeployments",
                        "singularName": "seldondeployment",
                        "namespaced": True,
                        "kind": "SeldonDeployment",
                        "verbs": ["get", "list", "create", "update", "patch", "delete"],
                    },
                ],
            }
        match = OBJECT.match(req.path)
        if not match:
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        ns, name = match.group(1), match.group(2)
        verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch"}[req.method]
        if verb in state.forbidden:
            target = name or ""
            return 403, _status(
                403,
                "Forbidden",
                (
                    f'seldondeployments.machinelearning.seldon.io "{target}" is forbidden: User '
                    f'"tester" cannot {verb} resource "seldondeployments" in API group '
                    f'"machinelearning.seldon.io" in the namespace "{ns}"'
                ),
            )
        dry = req.query.get("dryRun") == ["All"]
        if req.method == "POST":
            key = (ns, req.body["metadata"]["name"])
            if key in state.objects:
                return 409, _status(409, "AlreadyExists", "already exists")
            if dry:
                return 201, {
                    **req.body,
                    "metadata": {**req.body["metadata"], "resourceVersion": ""},
                }
            return 201, state.put_object(ns, req.body)
        live = state.objects.get((ns, name or ""))
        if live is None:
            return 404, _status(
                404, "NotFound", f'seldondeployments.machinelearning.seldon.io "{name}" not found'
            )
        if req.method == "GET":
            return 200, live
        if req.method == "PUT":
            sent_rv = req.body.get("metadata", {}).get("resourceVersion")
            if sent_rv != live["metadata"]["resourceVersion"]:
                return 409, _status(
                    409,
                    "Conflict",
                    (
                        "Operation cannot be fulfilled on "
                        "seldondeployments.machinelearning.seldon.io "
                        f'"{name}": the object has been modified; please apply your changes to the '
                        "latest version and try again"
                    ),
                )
            return 200, req.body if dry else state.put_object(ns, req.body)
        # PATCH
        if state.before_patch is not None:
            hook, state.before_patch = state.before_patch, None
            hook(state)
            live = state.objects[(ns, name or "")]
        if req.content_type != "application/json-patch+json":
            return 415, _status(415, "UnsupportedMediaType", f"unsupported {req.content_type}")
        try:
            patched = apply_json_patch(live, req.body)
        except ValueError as exc:
            return 422, _status(422, "", str(exc))
        return 200, patched if dry else state.put_object(ns, patched)

    do_GET = do_POST = do_PUT = do_PATCH = _handle


class FakeApiServer:
    """Start with ``start()``; ``url`` is http://127.0.0.1:PORT; always ``stop()``."""

    def __init__(self) -> None:
        self.state = FakeState()
        handler = type("Handler", (_Handler,), {"state": self.state, "lock": threading.Lock()})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeApiServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
