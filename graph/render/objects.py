"""A rendered Kubernetes object and where its parts came from in the SeldonDeployment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RenderedObject:
    """``body`` is the object; ``origins`` maps a YAML path prefix in ``body`` (``""`` for
    the whole object) to the YAML path in the SeldonDeployment it was made from."""

    body: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """``Kind/name``."""
        return f"{self.body.get('kind')}/{(self.body.get('metadata') or {}).get('name')}"

    def source_of(self, path: str) -> str:
        """The SeldonDeployment path of the longest traced prefix of ``path``."""
        best = ""
        for prefix in self.origins:
            matches = not prefix or path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))
            if matches and len(prefix) >= len(best):
                best = prefix
        return self.origins.get(best, "")
