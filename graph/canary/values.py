"""Canary edits on the Helm chart's values file (``predictors[*].traffic`` and friends).

The chart's ``predictors`` list holds ``name``, ``traffic``, ``shadow``, ``modelVersion``,
``modelUri`` and ``replicas``. The same rules as for a manifest apply; promotion copies the
canary's ``modelUri`` and ``modelVersion`` onto main. When a ``helm`` binary is given and the
values file sits in a chart directory (or ``chart`` is given), the edited values are
rendered with ``helm template`` and the SeldonDeployment it produces is validated too.
"""

from __future__ import annotations

import copy
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

from graph.canary import weights
from graph.canary.files import EditPlan, check_valid
from graph.canary.status import PredictorRow, rows_of
from graph.canary.yamledit import render
from graph.canary.yamlfile import load_file, to_plain
from model.errors import ConfigError, ManifestError

PATH = "predictors"
PROMOTED_FIELDS = ("modelUri", "modelVersion")
PredictorOp = Callable[[weights.Predictors], None]


def set_op(new: Mapping[str, int]) -> PredictorOp:
    return lambda preds: weights.set_weights_in(preds, new, PATH)


def rollback_op(canary: str | None = None) -> PredictorOp:
    return lambda preds: weights.rollback_in(preds, canary)


def promote_op(
    canary: str | None = None, remove: bool = True, allow_shadow: bool = False
) -> PredictorOp:
    return lambda preds: weights.promote_in(
        preds, canary, remove, allow_shadow, PROMOTED_FIELDS, PATH
    )


def status(doc: Any) -> list[PredictorRow]:
    return rows_of(weights.predictors_of(doc, PATH), version_key="modelVersion")


def chart_of(values_path: Path) -> Path | None:
    """The chart directory holding ``values_path`` (``Chart.yaml`` beside it), if any."""
    parent = values_path.resolve().parent
    return parent if (parent / "Chart.yaml").is_file() else None


def render_chart(helm: str, chart: Path, values_text: str, release: str = "digits") -> str:
    """``helm template`` of ``chart`` with ``values_text`` as its values file."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", encoding="utf-8") as handle:
        handle.write(values_text)
        handle.flush()
        try:
            done = subprocess.run(
                [helm, "template", release, str(chart), "-f", handle.name],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except OSError as exc:
            raise ConfigError(f"cannot run {helm}: {exc}") from exc
    if done.returncode != 0:
        raise ManifestError(
            f"helm template rejects the result, nothing written: {done.stderr.strip()}",
            str(chart),
        )
    return done.stdout


def _check_rendered(rendered: str, schema: Draft7Validator | None, source: str) -> None:
    docs = [d for d in yaml.safe_load_all(rendered) if isinstance(d, dict)]
    deployments = [d for d in docs if d.get("kind") == "SeldonDeployment"]
    if len(deployments) != 1:
        raise ManifestError(f"helm template rendered {len(deployments)} SeldonDeployments", source)
    check_valid(deployments[0], schema, f"{source} (rendered)")


def plan_values_edit(
    path: str | Path,
    operation: PredictorOp,
    schema: Draft7Validator | None = None,
    helm: str | None = None,
    chart: Path | None = None,
) -> EditPlan:
    """Apply ``operation`` to the values file's ``predictors`` and check the result."""
    path = Path(path)
    loaded = load_file(path)
    if len(loaded.documents) != 1:
        raise ManifestError("a values file holds exactly one document", str(path))
    doc = copy.deepcopy(loaded.documents[0])
    operation(weights.predictors_of(doc, PATH))
    text = render(loaded, [doc])
    chart = chart or chart_of(path)
    if helm and chart is not None:
        _check_rendered(render_chart(helm, chart, text), schema, str(path))
    return EditPlan(path, loaded.text, text, to_plain(doc))
