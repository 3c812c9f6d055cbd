"""Check documents against the SeldonDeployment CRD's ``openAPIV3Schema`` (JSON Schema draft 7).

The schema file is found once (``--schema PATH``, else the copy shipped beside the
repository in ``../shared/seldon/``) and compiled once per path.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError, ValidationError

from graph.manifest import Finding
from model.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCHEMA = Path("..") / "shared" / "seldon" / "seldondeployment-v1.schema.json"
SKIPPED_NOTE = "no CRD schema found; schema checks skipped"


def default_schema_candidates(cwd: Path | None = None) -> list[Path]:
    """Where the CRD schema is looked for when ``--schema`` is not given, in order."""
    here = Path.cwd() if cwd is None else cwd
    return [REPO_ROOT / DEFAULT_SCHEMA, here / DEFAULT_SCHEMA]


def find_schema(explicit: str | Path | None = None, cwd: Path | None = None) -> Path | None:
    """The schema to use: ``explicit`` (which must exist), else the first default found."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"--schema {path}: no such file")
        return path
    for candidate in default_schema_candidates(cwd):
        if candidate.is_file():
            return candidate.resolve()
    return None


@functools.lru_cache(maxsize=4)
def load_schema(path: Path) -> Draft7Validator:
    """A compiled validator for the schema at ``path`` (read and checked once per path)."""
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the CRD schema {path}: {exc}") from exc
    if not isinstance(schema, dict):
        raise ConfigError(f"the CRD schema {path} is not a JSON object")
    # A CRD's openAPIV3Schema is sometimes saved with its wrapper; accept both.
    schema = schema.get("openAPIV3Schema", schema)
    try:
        Draft7Validator.check_schema(schema)
    except SchemaError as exc:
        raise ConfigError(
            f"the CRD schema {path} is not a valid JSON Schema: {exc.message}"
        ) from exc
    return Draft7Validator(schema)


def yaml_path(parts: Iterable[str | int]) -> str:
    """``["spec", "predictors", 1, "traffic"]`` -> ``spec.predictors[1].traffic``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _finding(error: ValidationError) -> Finding:
    parts: list[str | int] = list(error.absolute_path)
    message = error.message
    if error.validator == "required" and isinstance(error.instance, dict):
        # Point at the missing key itself rather than at the object that lacks it.
        missing = [
            key
            for key in error.validator_value
            if key not in error.instance and repr(key) in error.message
        ]
        if missing:
            parts.append(missing[0])
            message = "is required"
    return Finding(yaml_path(parts), f"schema: {message}")


def prune_nulls(value: Any) -> Any:
    """``value`` without the mapping keys whose value is null, as the API server prunes
    them before validating a custom resource (``componentSpecs:`` left empty is accepted)."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


def schema_findings(doc: Any, validator: Draft7Validator) -> list[Finding]:
    """Every schema violation in ``doc`` (null-valued keys pruned first), sorted by path."""
    return sorted({_finding(error) for error in validator.iter_errors(prune_nulls(doc))})
