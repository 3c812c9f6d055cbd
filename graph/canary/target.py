"""What a rollout step changes: the manifest file (and, optionally, the cluster).

Each change is one of :mod:`graph.canary.weights`' pure operations, planned and validated
by :func:`graph.canary.files.plan_manifest_edit` (CRD schema + admission rules) and
written atomically with its formatting kept; a local ``seldon-graph serve`` watching the
file picks the new weights up. With ``apply`` the validated document is also sent to the
cluster (weights: a traffic-only patch; promotion: create-or-replace).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from graph.canary import weights
from graph.canary.files import commit, plan_manifest_edit, seldon_index
from graph.canary.yamlfile import load_file

# (validated document, traffic_only) -> a one-line summary of what the cluster did
Apply = Callable[[dict[str, Any], bool], str]


def live_weights(doc: Any) -> dict[str, int]:
    """``{name: traffic}`` of the non-shadow predictors of a (plain) SeldonDeployment."""
    return {
        str(p["name"]): int(p.get("traffic", 0) or 0)
        for p in weights.predictors_of(doc)
        if p.get("shadow") is not True
    }


class ManifestTarget:
    """Canary weights, rollback and promotion as edits of one manifest file."""

    def __init__(
        self,
        path: str | Path,
        canary: str | None = None,
        schema: Draft7Validator | None = None,
        apply: Apply | None = None,
    ) -> None:
        self.path = Path(path)
        self.schema = schema
        self.apply = apply
        loaded = load_file(self.path)
        doc = loaded.documents[seldon_index(loaded.documents, str(self.path))]
        preds = weights.predictors_of(doc)
        c = weights.canary_index(preds, canary)
        self.canary = str(preds[c]["name"])
        self.main = str(preds[weights.main_index(preds, exclude=c)]["name"])
        self.deployment = str((doc.get("metadata") or {}).get("name") or "")
        self.namespace = str((doc.get("metadata") or {}).get("namespace") or "default")
        self.applied: list[str] = []

    def _edit(self, operation: Callable[[Any], Any], traffic_only: bool) -> dict[str, Any]:
        plan = plan_manifest_edit(self.path, operation, self.schema)
        commit(plan)
        if self.apply is not None:
            self.applied.append(self.apply(plan.document, traffic_only))
        return plan.document

    def set_canary(self, weight: int) -> dict[str, int]:
        """Canary at ``weight``, main at the rest; returns the live weights written."""

        def op(doc: Any) -> Any:
            wanted = weights.canary_weights(weights.predictors_of(doc), weight, self.canary)
            return weights.set_weights(doc, wanted)

        return live_weights(self._edit(op, traffic_only=True))

    def rollback(self) -> dict[str, int]:
        """Canary at 0, its share back on main."""
        return live_weights(self._edit(lambda d: weights.rollback(d, self.canary), True))

    def promote(self) -> dict[str, int]:
        """The canary's graph becomes main's (canary removed)."""
        return live_weights(self._edit(lambda d: weights.promote(d, self.canary), False))
