"""In-process mode: build each node's component object in this process, no children.

The class comes from the node's ``MODEL_NAME`` exactly as in process mode; it is built by
``graph.clients.inprocess.load_component`` (Seldon's own ``parse_parameters`` for the
constructor arguments, then ``load()``), as ``seldon-core-microservice`` does.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from graph.clients.inprocess import load_component
from graph.runner.plan import NodePlan
from model.errors import ConfigError

log = logging.getLogger(__name__)


def build_component(plan: NodePlan) -> Any:
    """Construct the node's component with its parameters and run ``load()``."""
    if os.getcwd() not in sys.path:  # first, as the runner's PYTHONPATH does for nodes
        sys.path.insert(0, os.getcwd())
    try:
        component = load_component(plan.model_name, plan.parameters)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"node {plan.key}: cannot load MODEL_NAME '{plan.model_name}': {exc}"
        ) from exc
    log.info("built %s in process (%s)", plan.key, plan.model_name)
    return component


def build_components(plans: list[NodePlan]) -> dict[str, Any]:
    """``{plan.key: component}`` for every plan."""
    return {plan.key: build_component(plan) for plan in plans}
