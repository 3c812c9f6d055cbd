"""The state of a serve run's containers, listed by one engine call every half second in
a thread of its own (its own API connection), so that liveness checks cost nothing."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import dataclass

import docker

_EXITED = re.compile(r"Exited \((-?\d+)\)")


@dataclass(frozen=True)
class Seen:
    running: bool
    exit_code: int | None
    at: float  # time.monotonic() of the listing that saw it


class StateWatch:
    """Lists the containers labelled ``label`` (``key=value``) until stopped."""

    def __init__(self, client: docker.DockerClient, label: str, interval: float = 0.5) -> None:
        self._client = client
        self._label = label
        self._interval = interval
        self._seen: dict[str, Seen] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="container-state", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def seen(self, container_id: str) -> Seen | None:
        return self._seen.get(container_id)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(docker.errors.DockerException, OSError, ValueError):
                self.refresh()
            self._stop.wait(self._interval)

    def refresh(self) -> None:
        at = time.monotonic()
        listed = self._client.api.containers(all=True, filters={"label": self._label})
        seen = {}
        for item in listed:
            state = str(item.get("State") or "")
            code = _EXITED.search(str(item.get("Status") or ""))
            seen[str(item["Id"])] = Seen(state == "running", int(code[1]) if code else None, at)
        self._seen = seen

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
