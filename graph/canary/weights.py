"""Canary traffic edits: pure functions over a parsed SeldonDeployment.

Each operation takes a document (plain dicts or ruamel round-trip nodes), returns an edited
deep copy and never touches the input. The rules, which match the operator's webhook:

- the traffic of the non-shadow ("live") predictors is a percentage of live traffic; with
  more than one live predictor the weights must sum to 100;
- a shadow's ``traffic`` is a mirror percentage (0..100), not part of that sum;
- the *main* predictor is the live predictor named ``main``, else the first live one;
- the *canary* is ``canary`` when given, else the one live predictor other than main
  (with more than one the request is ambiguous and refused);
- promoting a shadow is refused unless ``allow_shadow`` is set: a shadow was only ever
  mirrored, never served, so it takes an explicit decision.

The same functions work on the Helm chart's values (a ``predictors`` list at the top)
through the ``*_in`` variants that take the predictor list itself. The traffic rules
themselves are :mod:`graph.validation.traffic`'s.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any

from graph.validation.traffic import PREDICTORS_PATH as PREDICTORS_PATH
from graph.validation.traffic import check_traffic as check_traffic  # re-exported
from model.errors import ConfigError, ManifestError

Predictors = MutableSequence[MutableMapping[str, Any]]


class WeightSyntaxError(ConfigError):
    """A ``NAME=WEIGHT`` argument does not parse (a usage error)."""


def parse_weights(items: Sequence[str]) -> dict[str, int]:
    """``["main=75", "canary=25"]`` -> ``{"main": 75, "canary": 25}``."""
    weights: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise WeightSyntaxError(f"{item!r}: expected NAME=WEIGHT, e.g. main=75")
        if name in weights:
            raise WeightSyntaxError(f"{name!r} is given more than once")
        try:
            weights[name] = int(value)
        except ValueError:
            raise WeightSyntaxError(
                f"{item!r}: the weight must be a whole number of percent, not {value!r}"
            ) from None
    return weights


def is_shadow(pred: Mapping[str, Any]) -> bool:
    return pred.get("shadow") is True


def traffic_of(pred: Mapping[str, Any]) -> int:
    value = pred.get("traffic", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def predictors_of(doc: Any, path: str = PREDICTORS_PATH) -> Predictors:
    """``doc.spec.predictors`` (or the list at ``path``), checked to be a list of objects."""
    node = doc
    for key in path.split("."):
        if not isinstance(node, MutableMapping) or key not in node:
            raise ManifestError("is required: the document has no predictors", path)
        node = node[key]
    if not isinstance(node, MutableSequence) or not node:
        raise ManifestError("must be a non-empty list of predictors", path)
    for i, pred in enumerate(node):
        if not isinstance(pred, MutableMapping) or not pred.get("name"):
            raise ManifestError("a predictor must be an object with a name", f"{path}[{i}]")
    return node


def _index(preds: Predictors, name: str, path: str) -> int:
    for i, pred in enumerate(preds):
        if pred.get("name") == name:
            return i
    known = ", ".join(str(p.get("name")) for p in preds)
    raise ConfigError(f"unknown predictor {name!r} (the predictors in {path}: {known})")


def main_index(preds: Predictors, exclude: int | None = None) -> int:
    """The main predictor: the live one named ``main``, else the first live one."""
    live = [i for i, p in enumerate(preds) if not is_shadow(p) and i != exclude]
    if not live:
        raise ConfigError("there is no live (non-shadow) predictor to take the traffic")
    named = [i for i in live if preds[i].get("name") == "main"]
    return named[0] if named else live[0]


def canary_index(preds: Predictors, canary: str | None = None, path: str = PREDICTORS_PATH) -> int:
    """The canary: ``canary`` by name, else the one live predictor other than main."""
    if canary is not None:
        return _index(preds, canary, path)
    main = main_index(preds)
    others = [i for i, p in enumerate(preds) if not is_shadow(p) and i != main]
    if len(others) == 1:
        return others[0]
    shadows = [str(p.get("name")) for p in preds if is_shadow(p)]
    if not others:
        hint = (
            f"; {', '.join(shadows)} is a shadow (its traffic is a mirror percentage): "
            "name it with --canary-name to act on it"
            if shadows
            else ""
        )
        raise ConfigError(
            f"no canary: {preds[main].get('name')!r} is the only live predictor{hint}"
        )
    names = ", ".join(str(preds[i].get("name")) for i in others)
    raise ConfigError(f"which predictor is the canary is ambiguous ({names}): give --canary-name")


def set_weights_in(
    preds: Predictors, weights: Mapping[str, int], path: str = PREDICTORS_PATH
) -> None:
    """Set each named predictor's traffic in place, then check the rules."""
    if not weights:
        raise WeightSyntaxError("give at least one NAME=WEIGHT")
    for name, weight in weights.items():
        i = _index(preds, name, path)
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            kind = "mirror percentage" if is_shadow(preds[i]) else "weight"
            raise ConfigError(f"{name}={weight}: a {kind} must be within 0..100")
        preds[i]["traffic"] = weight
    check_traffic(preds, path)


def canary_weights(
    preds: Predictors, canary_weight: int, canary: str | None = None
) -> dict[str, int]:
    """``--canary N``: the canary gets N, the one other live predictor 100 - N."""
    live = [i for i, p in enumerate(preds) if not is_shadow(p)]
    c = canary_index(preds, canary)
    if is_shadow(preds[c]):
        raise ConfigError(
            f"{preds[c].get('name')!r} is a shadow: its traffic is a mirror percentage, so "
            f"--canary cannot split live traffic with it; use set {preds[c].get('name')}=N"
        )
    if len(live) > 2:
        names = ", ".join(str(preds[i].get("name")) for i in live)
        raise ConfigError(
            f"--canary needs exactly two live predictors, found {len(live)} ({names}): "
            "give every weight as NAME=WEIGHT"
        )
    if not 0 <= canary_weight <= 100:
        raise ConfigError(f"--canary {canary_weight}: a weight must be within 0..100")
    main = main_index(preds, exclude=c)
    return {str(preds[c]["name"]): canary_weight, str(preds[main]["name"]): 100 - canary_weight}


def rollback_in(preds: Predictors, canary: str | None = None) -> None:
    """The canary's share goes back to main; the canary is left at 0."""
    c = canary_index(preds, canary)
    if is_shadow(preds[c]):
        raise ConfigError(
            f"{preds[c].get('name')!r} is a shadow and takes no live traffic: nothing to roll "
            f"back (remove it, or set its mirror percentage with set {preds[c].get('name')}=N)"
        )
    main = main_index(preds, exclude=c)
    preds[main]["traffic"] = traffic_of(preds[main]) + traffic_of(preds[c])
    preds[c]["traffic"] = 0
    check_traffic(preds)


def promote_in(
    preds: Predictors,
    canary: str | None = None,
    remove: bool = True,
    allow_shadow: bool = False,
    fields: Sequence[str] = ("graph", "componentSpecs"),
    path: str = PREDICTORS_PATH,
) -> None:
    """The canary's ``fields`` (and ``labels.version``) become main's; main takes the
    canary's share; the canary is removed, or kept at 0 (a shadow keeps its mirror)."""
    c = canary_index(preds, canary, path)
    shadow = is_shadow(preds[c])
    if shadow and not allow_shadow:
        raise ConfigError(
            f"{preds[c].get('name')!r} is a shadow (mirrored, never served): promoting it "
            "needs --allow-shadow"
        )
    main = main_index(preds, exclude=c)
    source, target = preds[c], preds[main]
    for key in fields:
        if key in source:
            target[key] = copy.deepcopy(source[key])
        elif key in target:
            del target[key]
    version = (source.get("labels") or {}).get("version")
    if version is not None:
        if not isinstance(target.get("labels"), MutableMapping):
            target["labels"] = {}
        target["labels"]["version"] = version
    if not shadow:
        target["traffic"] = traffic_of(target) + traffic_of(source)
        source["traffic"] = 0
    if remove:
        del preds[c]
    check_traffic(preds, path)


def set_weights(doc: Any, weights: Mapping[str, int]) -> Any:
    """A copy of ``doc`` with the named predictors' traffic set."""
    out = copy.deepcopy(doc)
    set_weights_in(predictors_of(out), weights)
    return out


def promote(
    doc: Any, canary: str | None = None, remove: bool = True, allow_shadow: bool = False
) -> Any:
    """A copy of ``doc`` where the canary's graph and componentSpecs run as main at its
    old share plus the canary's (100 with two predictors)."""
    out = copy.deepcopy(doc)
    promote_in(predictors_of(out), canary, remove, allow_shadow)
    return out


def rollback(doc: Any, canary: str | None = None) -> Any:
    """A copy of ``doc`` with the canary at 0 and its share back on main."""
    out = copy.deepcopy(doc)
    rollback_in(predictors_of(out), canary)
    return out
