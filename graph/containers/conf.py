"""The project's Podman settings (``containers.conf``) and the environment that makes
every engine command of the project read them (``CONTAINERS_CONF``)."""

from __future__ import annotations

import os
from pathlib import Path

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")


def engine_env() -> dict[str, str]:
    """The environment for engine commands: Podman reads the project's containers.conf."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
