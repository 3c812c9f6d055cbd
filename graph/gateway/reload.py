"""Live traffic weights: the gateway follows its manifest file and an admin endpoint.

- **File**: :class:`WeightReloader` polls the manifest's ``(inode, mtime, size)`` every
  ``interval`` seconds (an atomic rename, as ``seldon-graph canary`` writes, gives a new
  inode); on a change it re-reads and validates the file exactly as ``serve`` did at start
  (admission rules), then sets each served deployment's traffic split. A file that does
  not parse or validate, or whose predictors differ from the running ones, changes
  nothing (logged). Graph changes are not hot-applied: the weights are, and a warning
  says the graph needs a restart.
- **Admin**: ``/admin/traffic`` (:mod:`graph.gateway.admin`) calls
  :meth:`WeightReloader.apply`. The file stays the source of truth: its next change
  overrides an admin change.

Weights are swapped atomically inside :class:`~graph.gateway.traffic.TrafficSplit`; every
predictor keeps its executor and nodes, so no request is dropped by a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from graph.canary.weights import check_traffic
from graph.deployments import load_deployments
from graph.gateway.dispatch import DeploymentRuntime, Gateway
from graph.spec import DeploymentSpec
from model.errors import ConfigError, InvalidInput, SeldonGraphError

log = logging.getLogger("seldon-graph.reload")
Signature = tuple[int, int, int]


def _signature(path: Path) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def check_weights(runtime: DeploymentRuntime, weights: Mapping[str, Any]) -> dict[str, int]:
    """Validate requested weights against the running deployment (every live predictor,
    whole percentages, summing to 100) and return them."""
    live = set(runtime.split.weights)
    unknown = [n for n in weights if n not in live]
    if unknown:
        shadow = runtime.split.shadow
        extra = f" ({shadow} is the shadow)" if shadow in unknown else ""
        raise InvalidInput(
            f"unknown live predictor(s) {', '.join(map(str, unknown))}{extra}; "
            f"the live predictors are {', '.join(sorted(live))}"
        )
    missing = sorted(live - set(weights))
    if missing:
        raise InvalidInput(f"give a weight for every live predictor: missing {', '.join(missing)}")
    preds = [{"name": n, "traffic": w} for n, w in weights.items()]
    try:
        check_traffic(preds, "traffic")
    except SeldonGraphError as exc:
        raise InvalidInput(str(exc)) from exc
    return {str(n): int(w) for n, w in weights.items()}


class WeightReloader:
    """Applies new weights to a running :class:`Gateway` from its file or the admin API."""

    def __init__(
        self,
        gateway: Gateway,
        manifest: Path | None,
        interval: float = 0.5,
    ) -> None:
        self.gateway = gateway
        self.manifest = manifest
        self.interval = interval
        self._signature: Signature | None = None
        self._task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- applying
    def apply(self, runtime: DeploymentRuntime, weights: Mapping[str, Any], source: str) -> bool:
        """Validate and set ``weights``; True when they differ from the current ones."""
        wanted = check_weights(runtime, weights)
        before = runtime.split.weights
        if wanted == before:
            return False
        runtime.split.set_weights(wanted)
        log.info("%s/%s: traffic %s -> %s (%s)", runtime.namespace, runtime.name, before,
                 wanted, source)  # fmt: skip
        return True

    def apply_specs(self, specs: Sequence[DeploymentSpec]) -> int:
        """Set the traffic of every served deployment found in ``specs``; the count changed."""
        changed = 0
        for runtime in self.gateway.runtimes:
            new = next(
                (s for s in specs if s.name == runtime.name and s.namespace == runtime.namespace),
                None,
            )
            if new is None:
                continue
            running = {p.name: p for p in runtime.spec.predictors}
            if set(running) != {p.name for p in new.predictors}:
                raise ConfigError(
                    f"{runtime.namespace}/{runtime.name}: the predictors changed "
                    f"({', '.join(sorted(running))} -> "
                    f"{', '.join(p.name for p in new.predictors)}); restart serve to apply"
                )
            live = {p.name: p.traffic for p in new.predictors if not p.shadow}
            if set(live) != set(runtime.split.weights):
                raise ConfigError(f"{runtime.name}: which predictor is the shadow changed")
            for p in new.predictors:
                old = running[p.name]
                if (p.graph, p.containers) != (old.graph, old.containers):
                    log.warning(
                        "%s/%s: the graph changed in the file; only the weights are applied "
                        "live, restart serve for the rest", runtime.name, p.name,
                    )  # fmt: skip
                if p.shadow and p.traffic != runtime.split.shadow_percent:
                    runtime.split.set_shadow(p.name, p.traffic)
            changed += self.apply(runtime, live, f"file {self.manifest}")
        return changed

    async def reload_file(self) -> bool:
        """Re-read the manifest and apply its weights; False (and logged) when it is
        unreadable or invalid, which leaves the current weights in place."""
        if self.manifest is None:
            return False
        try:
            specs = await asyncio.to_thread(load_deployments, self.manifest)
            if self.apply_specs(specs):
                self.gateway.metrics.reloads.labels("applied").inc()
        except (SeldonGraphError, OSError) as exc:
            self.gateway.metrics.reloads.labels("failed").inc()
            log.error("not reloading %s, kept the current weights: %s", self.manifest, exc)
            return False
        return True

    # ---------------------------------------------------------------- watching
    def start(self) -> None:
        """Watch the manifest in the background (no-op without a file or interval)."""
        if self.manifest is None or self.interval <= 0 or self._task is not None:
            return
        self._signature = _signature(self.manifest)
        self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        assert self.manifest is not None
        while True:
            await asyncio.sleep(self.interval)
            signature = _signature(self.manifest)
            if signature is None or signature == self._signature:
                continue  # missing for a moment (non-atomic editors) or unchanged
            self._signature = signature
            await self.reload_file()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
