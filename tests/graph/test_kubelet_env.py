"""resourceFieldRef env values resolved the way the kubelet does."""

from __future__ import annotations

import os
from typing import Any

import pytest

from graph.kubelet_env import container_env, resource_field_value


def _container(resources: dict[str, Any]) -> dict[str, Any]:
    return {"name": "c", "resources": resources}


@pytest.mark.parametrize(
    ("resources", "ref", "expected"),
    [
        ({"limits": {"cpu": "2"}}, {"resource": "limits.cpu"}, "2"),
        ({"limits": {"cpu": "1500m"}}, {"resource": "limits.cpu", "divisor": "1"}, "2"),
        ({"limits": {"cpu": "250m"}}, {"resource": "limits.cpu", "divisor": "1"}, "1"),
        ({"limits": {"cpu": "1500m"}}, {"resource": "limits.cpu", "divisor": "1m"}, "1500"),
        ({"limits": {"cpu": 3}}, {"resource": "limits.cpu", "divisor": 1}, "3"),
        # requests default to the limit, and are 0 with neither
        ({"limits": {"cpu": "2"}}, {"resource": "requests.cpu"}, "2"),
        ({}, {"resource": "requests.cpu"}, "0"),
        ({"limits": {"memory": "1Gi"}}, {"resource": "limits.memory", "divisor": "1Mi"}, "1024"),
        ({"limits": {"memory": "1G"}}, {"resource": "limits.memory", "divisor": "1Mi"}, "954"),
        # not resolved here
        ({}, {"resource": "limits.memory"}, None),
        ({"limits": {"cpu": "2"}}, {"resource": "limits.ephemeral-storage"}, None),
        ({"limits": {"cpu": "lots"}}, {"resource": "limits.cpu"}, None),
    ],
)
def test_resource_field_values_round_up_like_the_kubelet(
    resources: dict[str, Any], ref: dict[str, Any], expected: str | None
) -> None:
    assert resource_field_value(_container(resources), ref) == expected


def test_a_container_without_cpu_limit_gets_the_nodes_cpus() -> None:
    assert resource_field_value(_container({}), {"resource": "limits.cpu"}) == str(os.cpu_count())


def test_container_env_keeps_values_and_resolves_own_resource_refs() -> None:
    container = {
        "name": "c",
        "resources": {"limits": {"cpu": "1200m"}},
        "env": [
            {"name": "A", "value": "1"},
            {"name": "OMP", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {
                "name": "OTHER",
                "valueFrom": {"resourceFieldRef": {"containerName": "x", "resource": "limits.cpu"}},
            },
            {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ],
    }
    assert container_env(container) == {"A": "1", "OMP": "2"}
